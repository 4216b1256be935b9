import { native, type Pointer } from "../native/index.ts";
import { CudaError, CudaUnavailable, cudaCheck } from "./errors.ts";
import { cudaDriverSearch, openCudaLibrary } from "./libraries.ts";

/**
 * The CUDA driver API, bound by the names libcuda exports. cuda.h maps many API names to
 * versioned symbols (`#define cuMemAlloc cuMemAlloc_v2`); we bind what the macro points at,
 * and tests/ffi/cuda/driver-symbols.test.ts checks every entry against cuda.h.
 *
 * C types: CUresult, CUdevice, enums → i32; unsigned int → u32; size_t, CUdeviceptr → u64;
 * handles (CUcontext, CUstream, CUevent, CUmodule, CUfunction) and T* → ptr.
 */
export const driverSymbols = {
  cuInit: { args: ["u32"], returns: "i32" },
  cuDriverGetVersion: { args: ["ptr"], returns: "i32" },
  cuDeviceGetCount: { args: ["ptr"], returns: "i32" },
  cuDeviceGet: { args: ["ptr", "i32"], returns: "i32" },
  cuDeviceGetName: { args: ["ptr", "i32", "i32"], returns: "i32" },
  cuDeviceGetAttribute: { args: ["ptr", "i32", "i32"], returns: "i32" },
  cuDeviceTotalMem_v2: { args: ["ptr", "i32"], returns: "i32" },
  cuDevicePrimaryCtxRetain: { args: ["ptr", "i32"], returns: "i32" },
  cuDevicePrimaryCtxRelease_v2: { args: ["i32"], returns: "i32" },
  cuCtxSetCurrent: { args: ["ptr"], returns: "i32" },
  cuCtxSynchronize: { args: [], returns: "i32" },
  cuStreamCreate: { args: ["ptr", "u32"], returns: "i32" },
  cuStreamDestroy_v2: { args: ["ptr"], returns: "i32" },
  cuStreamSynchronize: { args: ["ptr"], returns: "i32" },
  cuEventCreate: { args: ["ptr", "u32"], returns: "i32" },
  cuEventRecord: { args: ["ptr", "ptr"], returns: "i32" },
  cuEventSynchronize: { args: ["ptr"], returns: "i32" },
  cuEventDestroy_v2: { args: ["ptr"], returns: "i32" },
  cuMemAlloc_v2: { args: ["ptr", "u64"], returns: "i32" },
  cuMemFree_v2: { args: ["u64"], returns: "i32" },
  cuMemGetInfo_v2: { args: ["ptr", "ptr"], returns: "i32" },
  cuMemcpyHtoDAsync_v2: { args: ["u64", "ptr", "u64", "ptr"], returns: "i32" },
  cuMemcpyDtoHAsync_v2: { args: ["ptr", "u64", "u64", "ptr"], returns: "i32" },
  cuMemcpyDtoDAsync_v2: { args: ["u64", "u64", "u64", "ptr"], returns: "i32" },
  cuMemsetD8Async: { args: ["u64", "u8", "u64", "ptr"], returns: "i32" },
  cuModuleLoadData: { args: ["ptr", "ptr"], returns: "i32" },
  cuModuleUnload: { args: ["ptr"], returns: "i32" },
  cuModuleGetFunction: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
  cuLaunchKernel: {
    args: ["ptr", "u32", "u32", "u32", "u32", "u32", "u32", "u32", "ptr", "ptr", "ptr"],
    returns: "i32",
  },
  cuGetErrorName: { args: ["i32", "ptr"], returns: "i32" },
  cuGetErrorString: { args: ["i32", "ptr"], returns: "i32" },
} as const;

/**
 * cuEventElapsedTime_v2 is what CUDA 12.8+ headers call cuEventElapsedTime; older drivers export
 * only the unversioned symbol (same signature). Bound on its own so an older driver still works.
 */
export const eventTimingSymbols = { cuEventElapsedTime_v2: { args: ["ptr", "ptr", "ptr"], returns: "i32" } } as const;
export const legacyEventTimingSymbols = { cuEventElapsedTime: { args: ["ptr", "ptr", "ptr"], returns: "i32" } } as const;

/** Enum values from cuda.h (checked against the header by the symbol test). */
export const CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
export const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
export const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
export const CU_STREAM_NON_BLOCKING = 0x1;
export const CU_EVENT_DEFAULT = 0x0;

type DriverLibrary = ReturnType<typeof openDriver>;

function openDriver() {
  const opened = openCudaLibrary(cudaDriverSearch(), driverSymbols);
  if (!opened.ok) return opened;
  const same = { ...cudaDriverSearch(), candidates: [opened.path] };
  const timed = openCudaLibrary(same, eventTimingSymbols, {});
  const legacy = timed.ok ? undefined : openCudaLibrary(same, legacyEventTimingSymbols, {});
  const elapsedTime = timed.ok ? timed.library.symbols.cuEventElapsedTime_v2 : legacy?.ok ? legacy.library.symbols.cuEventElapsedTime : undefined;
  return { ok: true as const, cu: opened.library.symbols, elapsedTime, path: opened.path };
}

let driver: DriverLibrary | undefined;
let initStatus: { ok: true; driverVersion: number; deviceCount: number } | { ok: false; reason: string } | undefined;

/** Opens libcuda on first use (never at import), so CPU-only runs never touch it. */
function library(): Extract<DriverLibrary, { ok: true }> {
  driver ??= openDriver();
  if (!driver.ok) throw new CudaUnavailable(driver.reason);
  return driver;
}

/** The raw symbols; every call's status goes through `check`. */
export function cu(): Extract<DriverLibrary, { ok: true }>["cu"] {
  return library().cu;
}

const pointerOut = new BigUint64Array(1);

function describeResult(code: number): { name: string; description: string } {
  const lib = library().cu;
  const name = lib.cuGetErrorName(code, pointerOut) === 0 && pointerOut[0] ? native.cString(Number(pointerOut[0])) : "";
  const text = lib.cuGetErrorString(code, pointerOut) === 0 && pointerOut[0] ? native.cString(Number(pointerOut[0])) : "";
  return { name: name || `CUresult ${code}`, description: text || "unrecognized error code" };
}

/** Throws CudaError for any CUresult but CUDA_SUCCESS, naming the call. */
export const check = cudaCheck(describeResult);

export type CudaAvailability =
  | { ok: true; driverVersion: number; deviceCount: number; libraryPath: string }
  | { ok: false; reason: string };

/**
 * Whether the driver can be used: library found, cuInit(0) succeeded, at least one device.
 * Never throws; the answer is computed once per process.
 */
export function cudaAvailability(): CudaAvailability {
  try {
    const lib = library();
    initStatus ??= initialize(lib.cu);
    return initStatus.ok ? { ...initStatus, libraryPath: lib.path } : initStatus;
  } catch (e) {
    return { ok: false, reason: e instanceof CudaUnavailable ? e.reason : String(e) };
  }
}

function initialize(lib: Extract<DriverLibrary, { ok: true }>["cu"]) {
  try {
    check("cuInit", lib.cuInit(0));
    const out = new Int32Array(1);
    check("cuDriverGetVersion", lib.cuDriverGetVersion(out));
    const driverVersion = out[0]!;
    check("cuDeviceGetCount", lib.cuDeviceGetCount(out));
    const deviceCount = out[0]!;
    if (deviceCount === 0) return { ok: false as const, reason: "the driver reports no CUDA devices" };
    return { ok: true as const, driverVersion, deviceCount };
  } catch (e) {
    return { ok: false as const, reason: e instanceof CudaError ? e.message : String(e) };
  }
}

/** Throws CudaUnavailable unless the driver is initialised with a device. */
export function requireCuda(): { driverVersion: number; deviceCount: number } {
  const status = cudaAvailability();
  if (!status.ok) throw new CudaUnavailable(status.reason);
  return status;
}

/** Reads a handle (or size_t / CUdeviceptr) a driver call wrote through a pointer. */
function handleOut(call: string, fill: (out: BigUint64Array) => number): number {
  const out = new BigUint64Array(1);
  check(call, fill(out));
  return Number(out[0]);
}

const asPointer = (handle: number): Pointer => handle as Pointer;

/** One GPU and its primary context (the one the CUDA runtime, and so ONNX Runtime, also uses). */
export class CudaDevice implements Disposable {
  readonly context: number;
  readonly name: string;
  readonly computeCapability: { readonly major: number; readonly minor: number };
  readonly multiprocessors: number;
  readonly totalMemory: number;
  #released = false;

  constructor(readonly ordinal: number) {
    const { deviceCount } = requireCuda();
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= deviceCount) {
      throw new CudaUnavailable(`no device cuda:${ordinal}; this machine has cuda:0..cuda:${deviceCount - 1}`);
    }
    const lib = cu();
    const idOut = new Int32Array(1);
    check("cuDeviceGet", lib.cuDeviceGet(idOut, ordinal));
    const device = idOut[0]!;
    this.#device = device;
    // Device queries need no context, so they come first and a failure leaks nothing.
    const nameBytes = new Uint8Array(256);
    check("cuDeviceGetName", lib.cuDeviceGetName(nameBytes, nameBytes.length, device));
    const end = nameBytes.indexOf(0);
    this.name = new TextDecoder().decode(nameBytes.subarray(0, end < 0 ? nameBytes.length : end));
    const attribute = (id: number, what: string): number => {
      check(`cuDeviceGetAttribute(${what})`, lib.cuDeviceGetAttribute(idOut, id, device));
      return idOut[0]!;
    };
    this.computeCapability = {
      major: attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, "compute capability major"),
      minor: attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, "compute capability minor"),
    };
    this.multiprocessors = attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "multiprocessor count");
    this.totalMemory = handleOut("cuDeviceTotalMem_v2", (out) => lib.cuDeviceTotalMem_v2(out, device));
    this.context = handleOut("cuDevicePrimaryCtxRetain", (out) => lib.cuDevicePrimaryCtxRetain(out, device));
    try {
      this.makeCurrent();
    } catch (e) {
      this[Symbol.dispose]();
      throw e;
    }
  }

  readonly #device: number;

  /**
   * Makes this device's context current on the calling thread. Cheap (a thread-local store), so
   * callers do it before every batch of work instead of tracking what another library switched.
   */
  makeCurrent(): void {
    check("cuCtxSetCurrent", cu().cuCtxSetCurrent(asPointer(this.context)));
  }

  synchronize(): void {
    this.makeCurrent();
    check("cuCtxSynchronize", cu().cuCtxSynchronize());
  }

  /** Free and total device memory in bytes, as the driver counts them (everyone's allocations). */
  memoryInfo(): { free: number; total: number } {
    this.makeCurrent();
    const free = new BigUint64Array(1);
    const total = new BigUint64Array(1);
    check("cuMemGetInfo_v2", cu().cuMemGetInfo_v2(free, total));
    return { free: Number(free[0]), total: Number(total[0]) };
  }

  [Symbol.dispose](): void {
    if (this.#released) return;
    this.#released = true;
    check("cuDevicePrimaryCtxRelease_v2", cu().cuDevicePrimaryCtxRelease_v2(this.#device));
  }
}

/** A non-blocking stream: it does not wait on the legacy default stream, so only our order matters. */
export class CudaStream implements Disposable {
  readonly handle: number;
  #destroyed = false;

  constructor() {
    this.handle = handleOut("cuStreamCreate", (out) => cu().cuStreamCreate(out, CU_STREAM_NON_BLOCKING));
  }

  synchronize(): void {
    check("cuStreamSynchronize", cu().cuStreamSynchronize(asPointer(this.handle)));
  }

  [Symbol.dispose](): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    check("cuStreamDestroy_v2", cu().cuStreamDestroy_v2(asPointer(this.handle)));
  }
}

/** A timing event: record on a stream, wait, and read milliseconds between two of them. */
export class CudaEvent implements Disposable {
  readonly handle: number;
  #destroyed = false;

  constructor() {
    this.handle = handleOut("cuEventCreate", (out) => cu().cuEventCreate(out, CU_EVENT_DEFAULT));
  }

  record(stream: CudaStream): void {
    check("cuEventRecord", cu().cuEventRecord(asPointer(this.handle), asPointer(stream.handle)));
  }

  synchronize(): void {
    check("cuEventSynchronize", cu().cuEventSynchronize(asPointer(this.handle)));
  }

  /** Milliseconds from `start` to this event; both must have completed (synchronize first). */
  elapsedSince(start: CudaEvent): number {
    const elapsedTime = library().elapsedTime;
    if (!elapsedTime) throw new CudaUnavailable("this driver exports neither cuEventElapsedTime_v2 nor cuEventElapsedTime");
    const ms = new Float32Array(1);
    check("cuEventElapsedTime", elapsedTime(ms, asPointer(start.handle), asPointer(this.handle)));
    return ms[0]!;
  }

  [Symbol.dispose](): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    check("cuEventDestroy_v2", cu().cuEventDestroy_v2(asPointer(this.handle)));
  }
}

/** Device memory from cuMemAlloc. `address` is the CUdeviceptr as a number (exact below 2^53). */
export class DeviceMemory implements Disposable {
  readonly address: number;
  #freed = false;

  constructor(readonly bytes: number) {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new RangeError(`device allocation of ${bytes} bytes; expected a positive byte count`);
    this.address = handleOut(`cuMemAlloc_v2(${bytes} bytes)`, (out) => cu().cuMemAlloc_v2(out, bytes));
  }

  [Symbol.dispose](): void {
    if (this.#freed) return;
    this.#freed = true;
    check("cuMemFree_v2", cu().cuMemFree_v2(this.address));
  }
}

/**
 * Host → device on `stream`, finished before returning. The driver docs only say a copy from
 * pageable memory "might be synchronous", and `src` is JS memory the collector owns, so we wait.
 */
export function copyToDevice(dst: number, src: ArrayBufferView, stream: CudaStream): void {
  if (src.byteLength === 0) return;
  const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  check("cuMemcpyHtoDAsync_v2", cu().cuMemcpyHtoDAsync_v2(dst, bytes, bytes.byteLength, asPointer(stream.handle)));
  stream.synchronize();
}

/** Device → host on `stream`, finished before returning (same reason as copyToDevice). */
export function copyToHost(dst: ArrayBufferView, src: number, stream: CudaStream): void {
  if (dst.byteLength === 0) return;
  const bytes = new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength);
  check("cuMemcpyDtoHAsync_v2", cu().cuMemcpyDtoHAsync_v2(bytes, src, bytes.byteLength, asPointer(stream.handle)));
  stream.synchronize();
}

export function copyOnDevice(dst: number, src: number, bytes: number, stream: CudaStream): void {
  if (bytes === 0) return;
  check("cuMemcpyDtoDAsync_v2", cu().cuMemcpyDtoDAsync_v2(dst, src, bytes, asPointer(stream.handle)));
}

export function fillBytes(dst: number, value: number, bytes: number, stream: CudaStream): void {
  if (bytes === 0) return;
  check("cuMemsetD8Async", cu().cuMemsetD8Async(dst, value & 0xff, bytes, asPointer(stream.handle)));
}

/** A loaded PTX module and its kernels, looked up once by name. */
export class CudaModule implements Disposable {
  readonly handle: number;
  readonly #functions = new Map<string, number>();
  #unloaded = false;

  constructor(ptx: string) {
    // The driver JIT-compiles the NUL-terminated PTX during the call and keeps no pointer to it.
    const image = Buffer.from(`${ptx}\0`, "utf8");
    this.handle = handleOut("cuModuleLoadData", (out) => cu().cuModuleLoadData(out, image));
  }

  function(name: string): number {
    let fn = this.#functions.get(name);
    if (fn === undefined) {
      const cName = Buffer.from(`${name}\0`, "utf8");
      fn = handleOut(`cuModuleGetFunction(${name})`, (out) => cu().cuModuleGetFunction(out, asPointer(this.handle), cName));
      this.#functions.set(name, fn);
    }
    return fn;
  }

  [Symbol.dispose](): void {
    if (this.#unloaded) return;
    this.#unloaded = true;
    check("cuModuleUnload", cu().cuModuleUnload(asPointer(this.handle)));
  }
}

/** A kernel argument as C sees it: `pointer` is a device address (CUdeviceptr, 8 bytes). */
export type KernelArgValue =
  | { type: "pointer"; value: number }
  | { type: "f32"; value: number }
  | { type: "i32"; value: number }
  | { type: "i64"; value: number };

export type Dim3 = readonly [number, number?, number?];

/** Views over one parameter block, made before its address is taken (see `launch`). */
export interface ParamBlock {
  readonly words: Uint32Array;
  readonly ints: Int32Array;
  readonly floats: Float32Array;
}

export function paramBlock(argCount: number): ParamBlock {
  const buffer = new ArrayBuffer(Math.max(16 * argCount, 16));
  return { words: new Uint32Array(buffer), ints: new Int32Array(buffer), floats: new Float32Array(buffer) };
}

/**
 * Writes the arguments into the block: N pointers (the void** kernelParams) followed by N
 * 8-byte value slots they point at; `base` is the block's address. Allocates nothing.
 */
export function packKernelParams(args: readonly KernelArgValue[], block: ParamBlock, base: number): void {
  const { words, ints, floats } = block;
  const n = args.length;
  for (let i = 0; i < n; i++) {
    const arg = args[i]!;
    const slot = 2 * (n + i); // in 32-bit words
    writeU64(words, 2 * i, base + 8 * (n + i));
    if (arg.type === "f32") {
      floats[slot] = arg.value;
      words[slot + 1] = 0;
    } else if (arg.type === "i32") {
      if (!Number.isInteger(arg.value) || arg.value < -(2 ** 31) || arg.value >= 2 ** 31) {
        throw new RangeError(`i32 kernel argument ${i} is ${arg.value}`);
      }
      ints[slot] = arg.value;
      words[slot + 1] = 0;
    } else {
      if (!Number.isSafeInteger(arg.value) || (arg.type === "pointer" && arg.value < 0)) {
        throw new RangeError(`${arg.type} kernel argument ${i} is ${arg.value}; expected a safe integer`);
      }
      writeU64(words, slot, arg.value);
    }
  }
}

/** Two's-complement little-endian 64-bit store of a safe integer, without BigInt (which allocates). */
function writeU64(words: Uint32Array, at: number, value: number): void {
  const high = Math.floor(value / 2 ** 32);
  words[at] = value - high * 2 ** 32;
  words[at + 1] = high >>> 0;
}

/**
 * Queues `fn` on `stream`. cuLaunchKernel copies the argument values during the call, so the
 * parameter block may live in JS memory: between addressOf() and the call only numbers are written
 * (nothing allocates), so the collector cannot move the block while C holds its address.
 */
export function launch(fn: number, grid: Dim3, block: Dim3, sharedBytes: number, stream: CudaStream, args: readonly KernelArgValue[]): void {
  const params = paramBlock(args.length);
  const base = native.addressOf(params.words);
  packKernelParams(args, params, base);
  check(
    "cuLaunchKernel",
    cu().cuLaunchKernel(
      asPointer(fn),
      grid[0], grid[1] ?? 1, grid[2] ?? 1,
      block[0], block[1] ?? 1, block[2] ?? 1,
      sharedBytes,
      asPointer(stream.handle),
      args.length ? base : null,
      null,
    ),
  );
}
