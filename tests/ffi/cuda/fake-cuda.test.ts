import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * No machine here has a GPU, so the bindings are driven against fake-cuda.c: a library that
 * exports the driver and NVRTC symbols with host memory behind them. What this proves: names,
 * argument order and types, out-pointers, the kernelParams block, option string tables, error
 * decoding, and CudaBackend's compile → cache → load → launch path. What it cannot: real GPU
 * behaviour (JIT, asynchrony, real PTX).
 */

const cc = Bun.which("cc") ?? Bun.which("gcc") ?? Bun.which("clang");
if (!cc) console.warn("skipping fake-driver tests: no C compiler (cc, gcc or clang) to build fake-cuda.c");

const dir = mkdtempSync(join(tmpdir(), "latentloom-fake-cuda-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function buildFake(variant: "current" | "legacy-timing" = "current"): string {
  const lib = join(dir, `libfake-cuda-${variant}.so`);
  const defines = variant === "legacy-timing" ? ["-DFAKE_LEGACY_TIMING"] : [];
  const source = join(import.meta.dir, "fake-cuda.c");
  const build = Bun.spawnSync([cc!, "-shared", "-fPIC", "-O1", ...defines, "-o", lib, source], { stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`building fake-cuda.c failed: ${build.stderr}`);
  return lib;
}

function runFixture(lib: string, cache: string): { exitCode: number; stderr: string; result: Record<string, any> } {
  const run = Bun.spawnSync([process.execPath, join(import.meta.dir, "fake-cuda-fixture.ts")], {
    env: { ...process.env, LATENTLOOM_CUDA_LIB: lib, LATENTLOOM_NVRTC_LIB: lib, LATENTLOOM_CACHE: cache },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stdout = run.stdout.toString();
  return { exitCode: run.exitCode, stderr: run.stderr.toString(), result: stdout ? JSON.parse(stdout) : {} };
}

describe.skipIf(!cc || process.platform !== "linux")("given a fake libcuda and libnvrtc", () => {
  const lib = cc && process.platform === "linux" ? buildFake() : "";
  const cache = join(dir, "cache");
  const first = lib ? runFixture(lib, cache) : { exitCode: -1, stderr: "", result: {} as Record<string, any> };
  const r = first.result;

  test("the fixture runs to the end", () => {
    expect({ exitCode: first.exitCode, stderr: first.stderr }).toEqual({ exitCode: 0, stderr: "" });
  });

  describe("the driver bindings", () => {
    test("report availability from cuInit, the driver version and the device count", () => {
      expect(r.availability).toEqual({ ok: true, driverVersion: 12080, deviceCount: 1, libraryPath: lib });
    });
    test("read the device's name, compute capability, multiprocessors and memory", () => {
      expect(r.device).toEqual({ name: "Fake GPU", cc: { major: 8, minor: 6 }, sms: 4, memory: 3 * 2 ** 30 });
    });
    test("turn a failing CUresult into a CudaError with the driver's name and text", () => {
      expect(r.outOfMemoryIsCudaError).toBe(true);
      expect(r.outOfMemory).toBe(
        "CudaError: cuMemAlloc_v2(34359738368 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory",
      );
    });
    test("pass pointer, i32 and negative i64 kernel arguments that C reads back exactly", () => {
      expect(r.scaleI32).toEqual(Array.from({ length: 10 }, (_, i) => -3 * i - 2 ** 40));
    });
    test("time two events through cuEventElapsedTime_v2", () => {
      expect(r.elapsedMs).toBe(1.5);
    });
    test("fall back to cuEventElapsedTime on drivers older than CUDA 12.8", () => {
      const legacy = runFixture(buildFake("legacy-timing"), join(dir, "legacy-cache"));
      expect([legacy.exitCode, legacy.stderr, legacy.result.elapsedMs]).toEqual([0, "", 1.5]);
    });
  });

  describe("CudaBackend", () => {
    test("describes the device, driver, NVRTC and the PTX target", () => {
      expect(r.description).toBe(
        "cuda:0: Fake GPU, compute 8.6, 4 SMs, 3.0 GiB; driver 12.8, 1 device(s), NVRTC 12.8; PTX for compute_86",
      );
      expect(r.streamIsHandle).toBe(true);
    });
    test("hands out zeroed memory, and no memory for zero bytes", () => {
      expect([r.allocIsZeroed, r.emptyAlloc]).toEqual([true, { kind: "cuda", pointer: 0, bytes: 0 }]);
    });
    test("runs blend's lerp_f32 with the result a plain loop gives", () => {
      expect(r.lerpMatches).toBe(true);
    });
    test("copies and reads at byte offsets", () => {
      expect(r.copyWindow).toEqual([25.125, 0.5, 1]);
    });
    test("compiles with NVRTC options for the device's architecture and caches the PTX by family", () => {
      expect(r.ptxFiles).toEqual(["blend.cuda-<key>.ptx"]);
      expect(r.ptxText).toBe("//fake-ptx options: --gpu-architecture=compute_86 -default-device --std=c++17");
    });
    test("names the PTX file by the shared kernel cache key of what NVRTC was given", () => {
      expect(r.ptxNamedByKernelCacheKey).toBe(true);
    });
    test("keeps its PTX in the one kernel cache folder, beside the CPU backend's shared objects", () => {
      expect(r.cpuLerp).toEqual([2, 2.5, 3, 3.5]);
      expect(r.kernelCacheFiles).toEqual(["blend.cpu-<key>.so", "blend.cuda-<key>.ptx"]);
    });
    test("throws KernelCompileError with the first error line and the whole log", () => {
      expect(r.compileError).toEqual({
        message: "kernel source broken.cu failed to compile: broken.cu(2): error: fake compile failure",
        log: "broken.cu(2): error: fake compile failure\n  #error\n\n1 error detected.\n",
      });
    });
    test("then says the failed family is unsupported, keeps why, and the launcher refuses it", () => {
      expect(r.supportsAfterFailure).toBe(false);
      expect(r.compileFailure).toStartWith("kernel source broken.cu failed to compile: ");
      expect(r.launchAfterFailure).toBe(
        "KernelArgumentError: nothing: nothing for f32 is not supported on cuda:0: its build of kernels/broken.cu failed or lacks it",
      );
    });
    test("answers supports() per op and dtype from blend's declarations", () => {
      expect(r.supports).toEqual({
        "lerp f32": true,
        "lerp f16": true,
        "slerp_rows f16": true,
        "f16_to f32": true,
        "scale f32": true,
        "scale f16": false,
        "lerp i32": false,
        "no_such_op f32": false,
      });
    });
    test("reports a kernel missing from the module as CUDA_ERROR_NOT_FOUND", () => {
      expect(r.missingKernel).toBe(
        "CudaError: cuModuleGetFunction(no_such_kernel) failed: CUDA_ERROR_NOT_FOUND (500): named symbol not found",
      );
    });
    test("rejects host storage and out-of-range offsets before any pointer reaches C", () => {
      expect([r.hostStorageRejected, r.overrunRejected]).toEqual([
        "TypeError: cannot write cpu storage on a CUDA backend",
        "RangeError: read of 8 bytes at offset 3996 overruns a 4000-byte CUDA buffer",
      ]);
    });

    test("in a second process loads the PTX from the disk cache instead of compiling again", () => {
      const ptxDir = join(cache, "kernels");
      const [file] = readdirSync(ptxDir).filter((f) => f.endsWith(".ptx"));
      writeFileSync(join(ptxDir, file!), "//fake-ptx from the cache");
      const second = runFixture(lib, cache);
      expect([second.exitCode, second.result.lerpMatches, second.result.ptxText]).toEqual([
        0,
        true,
        "//fake-ptx from the cache",
      ]);
    });
  });
});
