import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CudaUnavailable } from "../../../ffi/cuda/errors.ts";
import { blend } from "../../../kernels/blend.ts";
import {
  CudaBackend,
  cudaBackendAvailability,
  launchShape,
  nvrtcSource,
  ptxBuild,
} from "../../../pipelines/runtime/cuda-backend.ts";

describe("launchShape", () => {
  describe("for an elementwise rule", () => {
    const rule = { kind: "elementwise", count: "n" } as const;
    test("uses 256-thread blocks, enough to cover every element", () => {
      expect(launchShape(rule, 1000, 100)).toEqual({ grid: 4, block: 256 });
      expect(launchShape(rule, 1024, 100)).toEqual({ grid: 4, block: 256 });
    });
    test("caps the grid at 32 blocks per multiprocessor (the loop strides over the rest)", () => {
      expect(launchShape(rule, 1 << 30, 108)).toEqual({ grid: 108 * 32, block: 256 });
    });
    test("launches at least one block", () => {
      expect(launchShape(rule, 1, 0)).toEqual({ grid: 1, block: 256 });
    });
  });

  describe("for a rows rule", () => {
    test("runs one block of the declared width per row", () => {
      expect(launchShape({ kind: "rows", count: "rows", block: 128 }, 4096, 80)).toEqual({ grid: 4096, block: 128 });
    });
    test("caps the grid at CUDA's x-dimension limit", () => {
      expect(launchShape({ kind: "rows", count: "rows", block: 32 }, 2 ** 33, 80).grid).toBe(2 ** 31 - 1);
    });
    test("rejects a block CUDA cannot run", () => {
      expect(() => launchShape({ kind: "rows", count: "rows", block: 2048 }, 10, 80)).toThrow(/1\.\.1024 threads/);
    });
  });
});

describe("nvrtcSource", () => {
  test("puts the prelude first and restarts line numbers at the family's file", () => {
    expect(nvrtcSource("P1\nP2", "S1", "blend.cu")).toBe('P1\nP2\n#line 1 "blend.cu"\nS1');
  });
});

describe("ptxBuild", () => {
  test("keys the PTX on NVRTC's text, its options, its version and the target architecture", () => {
    expect(ptxBuild("P", "S", "blend", 86, ["-default-device"], "12.4")).toEqual({
      backend: "cuda",
      source: 'P\n#line 1 "blend.cu"\nS',
      compiler: "nvrtc 12.4",
      flags: ["-default-device"],
      arch: "compute_86",
    });
  });
});

const availability = cudaBackendAvailability();
if (availability.ok) console.warn("cuda-backend test: skipping the no-CUDA error cases, this machine has CUDA");

describe.skipIf(availability.ok)("without a usable CUDA device", () => {
  test("cudaBackendAvailability gives the reason instead of throwing", () => {
    expect(availability.ok).toBe(false);
    if (!availability.ok) expect(availability.reason.length).toBeGreaterThan(10);
  });
  test("creating a CudaBackend throws CudaUnavailable with that reason", () => {
    const reason = availability.ok ? "" : availability.reason;
    expect(() => new CudaBackend("cuda:0")).toThrow(new CudaUnavailable(reason));
    expect(() => new CudaBackend("cuda:0")).toThrow(`CUDA unavailable: ${reason}`);
  });
});

describe("CudaBackend", () => {
  test("rejects a device name that is not cuda:N", () => {
    expect(() => new CudaBackend("cpu")).toThrow('"cpu" is not a CUDA device like "cuda:0"');
  });
});

if (!availability.ok) console.warn(`skipping CudaBackend GPU tests: CUDA unavailable: ${availability.reason}`);

describe.skipIf(!availability.ok)("on cuda:0", () => {
  test("lerp_f32 from kernels/blend.cu matches a plain loop, through alloc, write, copy and read", () => {
    using backend = new CudaBackend("cuda:0");
    const n = 100_003;
    const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const [out, da, db, copy] = [0, 1, 2, 3].map(() => backend.alloc(4 * n));
    backend.write(da!, 0, a);
    backend.write(db!, 0, b);
    backend.launch(blend, blend.kernels.lerp_f32!, [
      { kind: "buffer", storage: out!, byteOffset: 0 },
      { kind: "buffer", storage: da!, byteOffset: 0 },
      { kind: "buffer", storage: db!, byteOffset: 0 },
      { kind: "scalar", type: "f32", value: 0.3 },
      { kind: "scalar", type: "i64", value: n },
    ], n);
    backend.copy(copy!, 0, out!, 0, 4 * n);
    const got = new Float32Array(n);
    backend.read(copy!, 0, got);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i]! - (a[i]! + 0.3 * (b[i]! - a[i]!))));
    expect(worst).toBeLessThan(1e-6);
    expect(backend.stream).toBeGreaterThan(0);
  });
});

/**
 * The buffer pool on the CUDA backend, against tests/ffi/cuda/fake-cuda.c (host memory behind
 * the driver API) limited to 1 MiB of "device" memory, in a child process so the fake library
 * is the one loaded.
 */
const cc = Bun.which("cc") ?? Bun.which("gcc") ?? Bun.which("clang");
if (!cc || process.platform !== "linux") console.warn("skipping the CUDA pool tests: they need Linux and a C compiler to build fake-cuda.c");

describe.skipIf(!cc || process.platform !== "linux")("CudaBackend's buffer pool, on a fake 1 MiB device", () => {
  const dir = mkdtempSync(join(tmpdir(), "latentloom-cuda-pool-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (() => {
    if (!cc || process.platform !== "linux") return { exitCode: -1, stderr: "", result: {} as Record<string, any> };
    const lib = join(dir, "libfake-cuda.so");
    const build = Bun.spawnSync([cc, "-shared", "-fPIC", "-O1", "-o", lib, join(import.meta.dir, "../../ffi/cuda/fake-cuda.c")], { stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`building fake-cuda.c failed: ${build.stderr}`);
    const child = Bun.spawnSync([process.execPath, join(import.meta.dir, "cuda-pool-fixture.ts")], {
      env: { ...process.env, LATENTLOOM_CUDA_LIB: lib, LATENTLOOM_NVRTC_LIB: lib, LATENTLOOM_CACHE: join(dir, "cache"), FAKE_CUDA_MEMORY_LIMIT: String(2 ** 20) },
      stdout: "pipe",
      stderr: "pipe",
    });
    const stdout = child.stdout.toString();
    return { exitCode: child.exitCode, stderr: child.stderr.toString(), result: stdout ? JSON.parse(stdout) : {} };
  })();
  const r = run.result;

  test("the fixture runs to the end", () => {
    expect({ exitCode: run.exitCode, stderr: run.stderr }).toEqual({ exitCode: 0, stderr: "" });
  });
  test("a disposed tensor's memory stays with the pool, not the driver", () => {
    expect(r.heldAfterFree).toEqual({ live: 1024, stats: { reused: 0, allocated: 1, retries: 0, held: 1, heldBytes: 1024 } });
  });
  test("the next tensor of that size gets the same device buffer, zeroed unless asked otherwise", () => {
    expect([r.reusedAddress, r.reusedIsZeroed]).toEqual([true, true]);
    expect(r.uninitializedKeepsBytes).toEqual([5, 6, 7, 8]);
    expect(r.afterReuse).toEqual({ live: 1024, stats: { reused: 2, allocated: 1, retries: 0, held: 1, heldBytes: 1024 } });
  });
  test("out of memory frees the pool and retries once", () => {
    expect(r.retry).toEqual({ retries: 1, live: 700 * 1024, held: 0 });
  });
  test("out of memory after that is one error naming the size", () => {
    expect(r.tooBig).toEqual({
      isOutOfDeviceMemory: true,
      message:
        "cuda:0: out of memory allocating 2.0 MiB (2097152 bytes), even after freeing 700.0 KiB of pooled buffers: " +
        "cuMemAlloc_v2(2097152 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory",
      live: 0,
    });
  });
  test("trimPool and dispose give the memory back to the driver", () => {
    expect([r.trimmed, r.afterTrim, r.afterDispose]).toEqual([32 * 1024, 64 * 1024, 0]);
  });
});
