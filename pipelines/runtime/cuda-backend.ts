import { existsSync, readFileSync } from "node:fs";
import {
  CudaDevice,
  CudaModule,
  CudaStream,
  copyOnDevice,
  copyToDevice,
  copyToHost,
  cudaAvailability,
  DeviceMemory,
  fillBytes,
  launch,
  type KernelArgValue,
} from "../../ffi/cuda/driver.ts";
import { CudaError, CudaUnavailable, KernelCompileError } from "../../ffi/cuda/errors.ts";
import { compileToPtx, nvrtcAvailability, nvrtcOptions, nvrtcVersion, pickArch, supportedArchs } from "../../ffi/cuda/nvrtc.ts";
import { kernelCacheFile, kernelCacheKey, writeCacheFile, type KernelBuild } from "../../ffi/kernel-cache.ts";
import type { DType, GridRule, KernelFamily, KernelSignature } from "../../kernels/signature.ts";
import { findKernel } from "../../kernels/variants.ts";
import { type Backend, cudaOrdinal, type DeviceName, type LaunchArg, type Storage } from "./backend.ts";
import { BufferPool, type BufferPoolStats } from "./buffer-pool.ts";

const PRELUDE_PATH = new URL("../../kernels/prelude-cuda.h", import.meta.url);
const ELEMENTWISE_BLOCK = 256;
/** Resident blocks per multiprocessor we aim for; beyond that a grid-stride loop just iterates. */
const BLOCKS_PER_MULTIPROCESSOR = 32;
const MAX_GRID_X = 2 ** 31 - 1;
const CUDA_ERROR_OUT_OF_MEMORY = 2;

/** Whether `cuda:N` could be used: libcuda, a device, and NVRTC. Never throws. */
export function cudaBackendAvailability(): { ok: true; description: string } | { ok: false; reason: string } {
  const driver = cudaAvailability();
  if (!driver.ok) return driver;
  const rtc = nvrtcAvailability();
  if (!rtc.ok) return rtc;
  const v = driver.driverVersion;
  return {
    ok: true,
    description: `driver ${Math.floor(v / 1000)}.${(v % 1000) / 10}, ${driver.deviceCount} device(s), NVRTC ${rtc.version.major}.${rtc.version.minor}`,
  };
}

/** What NVRTC is given for a family on `arch`, as the PTX cache key sees it (ffi/kernel-cache.ts). */
export function ptxBuild(prelude: string, source: string, family: string, arch: number, options: readonly string[], nvrtc: string): KernelBuild {
  return { backend: "cuda", source: nvrtcSource(prelude, source, `${family}.cu`), compiler: `nvrtc ${nvrtc}`, flags: options, arch: `compute_${arch}` };
}

/**
 * What NVRTC compiles for a family: the prelude, then the source with line numbers reset so
 * NVRTC's messages point into the family's own file.
 */
export function nvrtcSource(prelude: string, source: string, fileName: string): string {
  return `${prelude}\n#line 1 "${fileName}"\n${source}`;
}

export interface LaunchShape {
  readonly grid: number;
  readonly block: number;
}

/**
 * Grid for a rule evaluated to `count`: elementwise → 256-thread blocks, enough to cover the
 * elements but at most 32 per multiprocessor (the grid-stride loop covers the rest);
 * rows → one block per row (the row loop strides when rows exceed the grid limit).
 */
export function launchShape(rule: GridRule, count: number, multiprocessors: number): LaunchShape {
  if (rule.kind === "elementwise") {
    const cap = Math.max(1, multiprocessors * BLOCKS_PER_MULTIPROCESSOR);
    return { grid: Math.max(1, Math.min(Math.ceil(count / ELEMENTWISE_BLOCK), cap)), block: ELEMENTWISE_BLOCK };
  }
  if (!Number.isInteger(rule.block) || rule.block < 1 || rule.block > 1024) {
    throw new RangeError(`rows grid rule has block ${rule.block}; CUDA blocks hold 1..1024 threads`);
  }
  return { grid: Math.max(1, Math.min(count, MAX_GRID_X)), block: rule.block };
}

/** Compiled PTX by cache key, shared by every CudaBackend in the process. */
const ptxInMemory = new Map<string, string>();

/** `cuda:N`: the device's primary context, one stream, NVRTC-compiled kernels cached on disk. */
export class CudaBackend implements Backend {
  readonly device: DeviceName;
  readonly description: string;
  readonly #gpu: CudaDevice;
  readonly #stream: CudaStream;
  readonly #arch: number;
  readonly #modules = new Map<string, CudaModule>();
  readonly #compileFailures = new Map<string, string>();
  /** Live allocations by address (pooled ones are in #pool, not here). */
  readonly #allocations = new Map<number, DeviceMemory>();
  readonly #pool: BufferPool<DeviceMemory>;
  #disposed = false;

  constructor(device: DeviceName) {
    const ordinal = cudaOrdinal(device);
    const available = cudaBackendAvailability();
    if (!available.ok) throw new CudaUnavailable(available.reason);
    this.device = device;
    this.#gpu = new CudaDevice(ordinal);
    const { major, minor } = this.#gpu.computeCapability;
    try {
      this.#arch = pickArch(major * 10 + minor, supportedArchs());
      this.#stream = new CudaStream();
    } catch (e) {
      this.#gpu[Symbol.dispose](); // give the retained primary context back
      throw e;
    }
    const gib = (this.#gpu.totalMemory / 2 ** 30).toFixed(1);
    this.#pool = new BufferPool<DeviceMemory>({
      device,
      allocate: (bytes) => new DeviceMemory(bytes),
      // cuMemFree waits for the device to finish using the memory before releasing it.
      release: (memory) => memory[Symbol.dispose](),
      isOutOfMemory: (e) => e instanceof CudaError && e.code === CUDA_ERROR_OUT_OF_MEMORY,
    });
    this.description = `${device}: ${this.#gpu.name}, compute ${major}.${minor}, ${this.#gpu.multiprocessors} SMs, ${gib} GiB; ${available.description}; PTX for compute_${this.#arch}`;
  }

  /** The CUstream every copy and launch is queued on, for ONNX Runtime to share. */
  get stream(): number {
    return this.#stream.handle;
  }

  alloc(bytes: number, zero = true): Storage {
    if (this.#disposed) throw new Error(`${this.device} backend used after dispose()`);
    this.#gpu.makeCurrent();
    // cuMemAlloc rejects zero bytes; an empty tensor needs no memory, and address 0 is never read.
    if (bytes === 0) return { kind: "cuda", pointer: 0, bytes: 0 };
    const { storage: memory } = this.#pool.take(bytes);
    this.#allocations.set(memory.address, memory);
    // Fresh memory holds garbage and pooled memory its last user's bytes; the fill is queued
    // on the stream, so it runs after any work still using the buffer's previous contents.
    if (zero) fillBytes(memory.address, 0, bytes, this.#stream);
    return { kind: "cuda", pointer: memory.address, bytes };
  }

  /**
   * The buffer goes back to the pool, not to the driver: work queued on the stream may still
   * read it, and anything that reuses it is queued after that work.
   */
  free(storage: Storage): void {
    const { pointer } = cudaStorage(storage, "free");
    const memory = this.#allocations.get(pointer);
    if (!memory || this.#disposed) return;
    this.#allocations.delete(pointer);
    this.#pool.give(memory, memory.bytes);
  }

  trimPool(): number {
    if (this.#disposed) return 0;
    this.#gpu.makeCurrent();
    return this.#pool.trim();
  }

  get poolStats(): BufferPoolStats {
    return this.#pool.stats;
  }

  write(storage: Storage, byteOffset: number, src: ArrayBufferView): void {
    const { pointer } = inRange(storage, byteOffset, src.byteLength, "write");
    this.#gpu.makeCurrent();
    copyToDevice(pointer + byteOffset, src, this.#stream);
  }

  read(storage: Storage, byteOffset: number, dst: ArrayBufferView): void {
    const { pointer } = inRange(storage, byteOffset, dst.byteLength, "read");
    this.#gpu.makeCurrent();
    this.#stream.synchronize();
    copyToHost(dst, pointer + byteOffset, this.#stream);
  }

  copy(dst: Storage, dstOffset: number, src: Storage, srcOffset: number, bytes: number): void {
    const to = inRange(dst, dstOffset, bytes, "copy to");
    const from = inRange(src, srcOffset, bytes, "copy from");
    this.#gpu.makeCurrent();
    copyOnDevice(to.pointer + dstOffset, from.pointer + srcOffset, bytes, this.#stream);
  }

  /**
   * f16 converts through PTX in the prelude, so every GPU this NVRTC targets runs every declared
   * dtype (tests/kernels/nvcc-ptx.test.ts finds every declared kernel in the PTX): declared, and
   * the family's NVRTC compile has not failed.
   */
  supports(family: KernelFamily, op: string, dtype: DType): boolean {
    return findKernel(family, op, dtype) !== undefined && !this.#compileFailures.has(family.source);
  }

  /** Why the family's compile failed on this device, if it did. */
  compileFailure(family: KernelFamily): string | undefined {
    return this.#compileFailures.get(family.source);
  }

  launch(family: KernelFamily, kernel: KernelSignature, args: readonly LaunchArg[], count: number): void {
    if (count <= 0) return;
    this.#gpu.makeCurrent();
    const fn = this.#module(family).function(kernel.name);
    const { grid, block } = launchShape(kernel.grid, count, this.#gpu.multiprocessors);
    // Row kernels declare their shared memory statically, so no dynamic shared memory is asked for.
    launch(fn, [grid], [block], 0, this.#stream, args.map(kernelArgValue));
  }

  synchronize(): void {
    this.#gpu.makeCurrent();
    this.#stream.synchronize();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#gpu.makeCurrent();
    this.#stream.synchronize();
    this.#pool.trim();
    for (const memory of this.#allocations.values()) memory[Symbol.dispose]();
    this.#allocations.clear();
    for (const module of this.#modules.values()) module[Symbol.dispose]();
    this.#modules.clear();
    this.#stream[Symbol.dispose]();
    this.#gpu[Symbol.dispose]();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #module(family: KernelFamily): CudaModule {
    let module = this.#modules.get(family.source);
    if (!module) {
      module = new CudaModule(this.#ptx(family));
      this.#modules.set(family.source, module);
    }
    return module;
  }

  /** PTX from memory, else from the disk cache, else compiled by NVRTC and cached. */
  #ptx(family: KernelFamily): string {
    const prelude = readFileSync(PRELUDE_PATH, "utf8");
    const source = readFileSync(family.source, "utf8");
    const options = nvrtcOptions(this.#arch);
    const version = nvrtcVersion();
    const build = ptxBuild(prelude, source, family.name, this.#arch, options, `${version.major}.${version.minor}`);
    const key = kernelCacheKey(build);
    const cached = ptxInMemory.get(key);
    if (cached) return cached;
    const file = kernelCacheFile(family.name, build);
    if (existsSync(file)) {
      const ptx = readFileSync(file, "utf8");
      ptxInMemory.set(key, ptx);
      return ptx;
    }
    let ptx: string;
    try {
      ptx = compileToPtx(build.source, `${family.name}.cu`, options);
    } catch (e) {
      if (e instanceof KernelCompileError) this.#compileFailures.set(family.source, e.message);
      throw e;
    }
    writeCacheFile(file, ptx);
    ptxInMemory.set(key, ptx);
    return ptx;
  }
}

function cudaStorage(storage: Storage, what: string): { pointer: number; bytes: number } {
  if (storage.kind !== "cuda") throw new TypeError(`cannot ${what} ${storage.kind} storage on a CUDA backend`);
  return storage;
}

function inRange(storage: Storage, byteOffset: number, bytes: number, what: string): { pointer: number; bytes: number } {
  const s = cudaStorage(storage, what);
  if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || byteOffset + bytes > s.bytes) {
    throw new RangeError(`${what} of ${bytes} bytes at offset ${byteOffset} overruns a ${s.bytes}-byte CUDA buffer`);
  }
  return s;
}

function kernelArgValue(arg: LaunchArg): KernelArgValue {
  if (arg.kind === "scalar") return { type: arg.type, value: arg.value };
  const { pointer } = cudaStorage(arg.storage, "pass");
  return { type: "pointer", value: pointer + arg.byteOffset };
}
