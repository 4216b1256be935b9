/**
 * Run by fake-cuda.test.ts with LATENTLOOM_CUDA_LIB / LATENTLOOM_NVRTC_LIB pointing at the
 * compiled fake-cuda.c and LATENTLOOM_CACHE at a temp folder. Drives the real bindings and
 * CudaBackend, and prints one JSON object of what it observed.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import {
  CudaEvent,
  CudaModule,
  CudaStream,
  DeviceMemory,
  copyToHost,
  cudaAvailability,
  launch,
  CudaDevice,
} from "../../../ffi/cuda/driver.ts";
import { CudaError, KernelCompileError } from "../../../ffi/cuda/errors.ts";
import { nvrtcOptions } from "../../../ffi/cuda/nvrtc.ts";
import { kernelCacheFile } from "../../../ffi/kernel-cache.ts";
import { blend } from "../../../kernels/blend.ts";
import { defineFamily, elementwise, output, scalar } from "../../../kernels/signature.ts";
import { lerp } from "../../../pipelines/runtime/blend-ops.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { CudaBackend, ptxBuild } from "../../../pipelines/runtime/cuda-backend.ts";
import { launch as launchKernel } from "../../../pipelines/runtime/launcher.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";

const cache = process.env.LATENTLOOM_CACHE!;
const result: Record<string, unknown> = {};
const errorText = (f: () => unknown): string => {
  try {
    f();
    return "no error";
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
};

result.availability = cudaAvailability();
{
  using backend = new CudaBackend("cuda:0");
  result.description = backend.description;
  result.streamIsHandle = typeof backend.stream === "number" && backend.stream !== 0;

  const n = 1000;
  const a = Float32Array.from({ length: n }, (_, i) => i * 0.5);
  const b = Float32Array.from({ length: n }, (_, i) => 100 - i);
  const t = 0.25;
  const bytes = 4 * n;
  const [out, da, db] = [backend.alloc(bytes), backend.alloc(bytes), backend.alloc(bytes)];
  const zeros = new Float32Array(n);
  backend.read(out, 0, zeros);
  result.allocIsZeroed = zeros.every((v) => v === 0);
  backend.write(da, 0, a);
  backend.write(db, 0, b);
  backend.launch(blend, blend.kernels.lerp_f32!, [
    { kind: "buffer", storage: out, byteOffset: 0 },
    { kind: "buffer", storage: da, byteOffset: 0 },
    { kind: "buffer", storage: db, byteOffset: 0 },
    { kind: "scalar", type: "f32", value: t },
    { kind: "scalar", type: "i64", value: n },
  ], n);
  const got = new Float32Array(n);
  backend.read(out, 0, got);
  const expected = Float32Array.from({ length: n }, (_, i) => Math.fround(a[i]! + Math.fround(t * Math.fround(b[i]! - a[i]!))));
  result.lerpMatches = got.every((v, i) => v === expected[i]);

  // Offsets on both sides of a device copy, then a read at an offset.
  backend.copy(out, 8, da, 4, 8);
  const window = new Float32Array(3);
  backend.read(out, 4, window);
  result.copyWindow = Array.from(window);

  const ptxFiles = readdirSync(join(cache, "kernels")).filter((f) => f.endsWith(".ptx"));
  result.ptxFiles = ptxFiles.map((f) => f.replace(/-[0-9a-f]{32}\.ptx$/, "-<key>.ptx"));
  result.ptxText = ptxFiles[0] ? readFileSync(join(cache, "kernels", ptxFiles[0]), "utf8") : "";
  // The name the shared key rule gives for what NVRTC was handed (the fake reports NVRTC 12.8).
  const read = (p: string) => readFileSync(new URL(p, import.meta.url), "utf8");
  const nvrtcGot = ptxBuild(read("../../../kernels/prelude-cuda.h"), read("../../../kernels/blend.cu"), "blend", 86, nvrtcOptions(86), "12.8");
  result.ptxNamedByKernelCacheKey = ptxFiles.includes(basename(kernelCacheFile("blend", nvrtcGot)));

  const brokenSource = join(cache, "broken.cu");
  writeFileSync(brokenSource, "LL_KERNEL nothing() {}\n#error nope\n");
  const broken = defineFamily("broken", brokenSource, [
    { name: "nothing", args: [output("out", "f32", "n"), scalar("n", "i64")], grid: elementwise("n") },
  ]);
  try {
    backend.launch(broken, broken.kernels.nothing!, [], 1);
    result.compileError = "no error";
  } catch (e) {
    result.compileError = e instanceof KernelCompileError ? { message: e.message, log: e.log } : String(e);
  }
  result.supportsAfterFailure = backend.supports(broken, "nothing", "f32");
  result.compileFailure = backend.compileFailure(broken) ?? "none";
  result.launchAfterFailure = errorText(() => {
    using out = Tensor.empty(backend, "f32", [4]);
    launchKernel(broken, "nothing", { out, n: 4 }); // the launcher asks supports() first
  });
  result.supports = Object.fromEntries(
    (
      [
        ["lerp", "f32"],
        ["lerp", "f16"],
        ["slerp_rows", "f16"],
        ["f16_to", "f32"],
        ["scale", "f32"],
        ["scale", "f16"],
        ["lerp", "i32"],
        ["no_such_op", "f32"],
      ] as const
    ).map(([op, dtype]) => [`${op} ${dtype}`, backend.supports(blend, op, dtype)]),
  );
  result.missingKernel = errorText(() =>
    backend.launch(blend, { ...blend.kernels.lerp_f32!, name: "no_such_kernel" }, [], 1),
  );
  result.hostStorageRejected = errorText(() => backend.write({ kind: "cpu", buffer: new ArrayBuffer(4) }, 0, a));
  result.overrunRejected = errorText(() => backend.read(out, bytes - 4, new Float32Array(2)));
  backend.free(da);
  result.emptyAlloc = backend.alloc(0);
}

{
  using device = new CudaDevice(0);
  using stream = new CudaStream();
  result.device = { name: device.name, cc: device.computeCapability, sms: device.multiprocessors, memory: device.totalMemory };
  const oom = errorText(() => new DeviceMemory(2 ** 35));
  result.outOfMemory = oom;
  result.outOfMemoryIsCudaError = (() => {
    try {
      new DeviceMemory(2 ** 35);
      return false;
    } catch (e) {
      return e instanceof CudaError && e.code === 2 && e.codeName === "CUDA_ERROR_OUT_OF_MEMORY";
    }
  })();

  using module = new CudaModule("//fake-ptx by hand");
  using memory = new DeviceMemory(8 * 10);
  using start = new CudaEvent();
  using end = new CudaEvent();
  start.record(stream);
  launch(module.function("scale_i32"), [2], [3], 0, stream, [
    { type: "pointer", value: memory.address },
    { type: "i32", value: -3 },
    { type: "i64", value: -(2 ** 40) },
    { type: "i64", value: 10 },
  ]);
  end.record(stream);
  end.synchronize();
  const values = new BigInt64Array(10);
  copyToHost(values, memory.address, stream);
  result.scaleI32 = Array.from(values, Number);
  result.elapsedMs = end.elapsedSince(start);
}
result.cacheExists = existsSync(join(cache, "kernels"));

// The CPU backend compiles into the same folder by the same rule.
{
  const cpu = new CpuBackend();
  const a = Tensor.from(cpu, "f32", [4], [0, 1, 2, 3]);
  result.cpuLerp = Array.from(lerp(a, Tensor.from(cpu, "f32", [4], [4, 4, 4, 4]), 0.5).readF32());
  cpu.dispose();
}
result.kernelCacheFiles = readdirSync(join(cache, "kernels"))
  .map((f) => f.replace(/-[0-9a-f]{32}\.(so|ptx)$/, "-<key>.$1"))
  .sort();

console.log(JSON.stringify(result));
