import { describe, expect, test } from "bun:test";
import {
  CudaEvent,
  CudaModule,
  CudaStream,
  DeviceMemory,
  copyToDevice,
  copyToHost,
  cudaAvailability,
  type KernelArgValue,
  launch,
  packKernelParams,
  paramBlock,
  CudaDevice,
} from "../../../ffi/cuda/driver.ts";
import { compileToPtx, nvrtcAvailability, nvrtcOptions, pickArch, supportedArchs } from "../../../ffi/cuda/nvrtc.ts";

describe("cudaAvailability", () => {
  test("answers without throwing, with a reason whenever CUDA is not usable", () => {
    const status = cudaAvailability();
    if (status.ok) {
      expect(status.deviceCount).toBeGreaterThan(0);
      expect(status.driverVersion).toBeGreaterThan(0);
    } else {
      expect(status.reason.length).toBeGreaterThan(10);
    }
  });

  // On a machine with a GPU there is no failure to describe.
  test.skipIf(cudaAvailability().ok)("says which step failed: finding libcuda, cuInit, or counting devices", () => {
    const status = cudaAvailability();
    if (!status.ok) expect(status.reason).toMatch(/libcuda|LATENTLOOM_CUDA_LIB|cuInit|no CUDA devices/);
  });
});

describe("packKernelParams", () => {
  // The block is N pointers then N 8-byte value slots; `base` pretends the block sits at that address.
  const base = 0x7f12_3456_0000;
  const args: KernelArgValue[] = [
    { type: "pointer", value: 0x7_0000_1234 },
    { type: "f32", value: 0.5 },
    { type: "i32", value: -7 },
    { type: "i64", value: -(2 ** 40) - 3 },
  ];
  const block = paramBlock(args.length);
  packKernelParams(args, block, base);
  const view = new DataView(block.words.buffer);

  test("points kernelParams[i] at the i-th value slot", () => {
    const pointers = args.map((_, i) => Number(view.getBigUint64(8 * i, true)));
    expect(pointers).toEqual(args.map((_, i) => base + 8 * (args.length + i)));
  });

  test("stores each value as its C type, little-endian", () => {
    const slot = (i: number) => 8 * (args.length + i);
    expect([
      Number(view.getBigUint64(slot(0), true)),
      view.getFloat32(slot(1), true),
      view.getInt32(slot(2), true),
      Number(view.getBigInt64(slot(3), true)),
    ]).toEqual([0x7_0000_1234, 0.5, -7, -(2 ** 40) - 3]);
  });

  test("round-trips 64-bit integers at the ends of the safe range", () => {
    for (const value of [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -1, 0, 2 ** 32, 2 ** 32 - 1]) {
      const b = paramBlock(1);
      packKernelParams([{ type: "i64", value }], b, 0);
      expect(Number(new DataView(b.words.buffer).getBigInt64(8, true))).toBe(value);
    }
  });

  test("rejects values C cannot hold instead of truncating them", () => {
    expect(() => packKernelParams([{ type: "i32", value: 2 ** 31 }], paramBlock(1), 0)).toThrow(/i32 kernel argument 0/);
    expect(() => packKernelParams([{ type: "i64", value: 2 ** 60 }], paramBlock(1), 0)).toThrow(/safe integer/);
    expect(() => packKernelParams([{ type: "pointer", value: -8 }], paramBlock(1), 0)).toThrow(/pointer kernel argument/);
  });
});

const driver = cudaAvailability();
const rtc = nvrtcAvailability();
const gpuReason = !driver.ok ? driver.reason : !rtc.ok ? rtc.reason : undefined;
if (gpuReason) console.warn(`skipping GPU driver tests: CUDA unavailable: ${gpuReason}`);

describe.skipIf(gpuReason !== undefined)("on a CUDA device", () => {
  const fillSource = `extern "C" __global__ void fill_scaled(float* out, float scale, long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)blockDim.x * gridDim.x)
      out[i] = scale * (float)i;
  }`;

  test("device memory round-trips bytes through a stream", () => {
    using device = new CudaDevice(0);
    using stream = new CudaStream();
    using memory = new DeviceMemory(1024);
    const src = Uint8Array.from({ length: 1024 }, (_, i) => (i * 37) & 0xff);
    const dst = new Uint8Array(1024);
    copyToDevice(memory.address, src, stream);
    copyToHost(dst, memory.address, stream);
    expect(dst).toEqual(src);
    expect(device.name.length).toBeGreaterThan(0);
  });

  test("a launched kernel writes what a plain loop computes, and events time it", () => {
    using device = new CudaDevice(0);
    const { major, minor } = device.computeCapability;
    const arch = pickArch(major * 10 + minor, supportedArchs());
    using module = new CudaModule(compileToPtx(fillSource, "fill.cu", nvrtcOptions(arch)));
    using stream = new CudaStream();
    const n = 10_000;
    using out = new DeviceMemory(4 * n);
    using start = new CudaEvent();
    using end = new CudaEvent();
    start.record(stream);
    launch(module.function("fill_scaled"), [8], [128], 0, stream, [
      { type: "pointer", value: out.address },
      { type: "f32", value: 0.25 },
      { type: "i64", value: n },
    ]);
    end.record(stream);
    end.synchronize();
    const got = new Float32Array(n);
    copyToHost(got, out.address, stream);
    expect(got).toEqual(Float32Array.from({ length: n }, (_, i) => 0.25 * i));
    expect(end.elapsedSince(start)).toBeGreaterThanOrEqual(0);
  });
});
