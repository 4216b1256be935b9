import type { DType, KernelFamily, KernelSignature } from "../../kernels/signature.ts";
import type { BufferPoolStats } from "./buffer-pool.ts";

/** `cpu` or `cuda:N`. */
export type DeviceName = "cpu" | `cuda:${number}`;

/**
 * The one reading of a device string: `cpu`, `cuda` (= `cuda:0`) or `cuda:N`; anything else is
 * undefined (callers name the string in their error). `auto` is a choice, not a device: see
 * runtime/device.ts.
 */
export function parseDevice(spec: string): { name: DeviceName; cudaOrdinal: number | null } | undefined {
  if (spec === "cpu") return { name: "cpu", cudaOrdinal: null };
  const m = /^cuda(?::(\d+))?$/.exec(spec);
  if (!m) return undefined;
  const ordinal = Number(m[1] ?? 0);
  return Number.isSafeInteger(ordinal) ? { name: `cuda:${ordinal}`, cudaOrdinal: ordinal } : undefined;
}

/** N of `cuda:N`; a RangeError for anything else (a programming error: names come from parseDevice). */
export function cudaOrdinal(device: DeviceName): number {
  const ordinal = parseDevice(device)?.cudaOrdinal;
  if (ordinal === undefined || ordinal === null) throw new RangeError(`"${device}" is not a CUDA device like "cuda:0"`);
  return ordinal;
}

/** Memory a tensor lives in. CPU memory is a JS ArrayBuffer; CUDA memory a device pointer. */
export type Storage =
  | { kind: "cpu"; buffer: ArrayBuffer }
  | { kind: "cuda"; pointer: number; bytes: number };

/**
 * An argument as it crosses into C, after the launcher validated it: buffers are the storage
 * they point into (plus a byte offset), scalars are numbers.
 */
export type LaunchArg =
  | { kind: "buffer"; storage: Storage; byteOffset: number }
  | { kind: "scalar"; type: "f32" | "i32" | "i64"; value: number };

/**
 * What a device offers the runtime. Implemented by `ffi/cpu` (runtime-compiled C) and
 * `ffi/cuda` (NVRTC + driver API); both satisfy this interface structurally, since ffi/ may not
 * import from pipelines/.
 */
export interface Backend {
  readonly device: DeviceName;
  /** One line for logs: compiler or GPU name, thread count, compute capability. */
  readonly description: string;

  /**
   * Allocates `bytes` bytes, zeroed unless `zero` is false (then it holds whatever the reused
   * buffer held: for tensors a model or kernel overwrites entirely). Freed buffers of the same
   * size are reused (see buffer-pool.ts); when the device is out of memory, the pool is emptied
   * and the allocation tried once more, then an OutOfDeviceMemory names the size.
   */
  alloc(bytes: number, zero?: boolean): Storage;
  /** Returns memory from `alloc` to the backend's pool. Nothing may use it afterwards. */
  free(storage: Storage): void;
  /** Gives every pooled buffer back to the system; returns the bytes released. */
  trimPool(): number;
  /** What the pool has done and holds, for tests and logs. */
  readonly poolStats: BufferPoolStats;
  /** Copies host bytes into storage at `byteOffset`. */
  write(storage: Storage, byteOffset: number, src: ArrayBufferView): void;
  /** Copies storage bytes at `byteOffset` into host memory; waits for queued work first. */
  read(storage: Storage, byteOffset: number, dst: ArrayBufferView): void;
  /** Device-to-device copy. */
  copy(dst: Storage, dstOffset: number, src: Storage, srcOffset: number, bytes: number): void;

  /**
   * Whether this backend can run `op` of `family` on `dtype` (`supports(blend, "lerp", "f16")`;
   * ops and dtypes as `kernels/variants.ts` reads kernel names): false when the family declares no
   * such kernel, or when this backend's build of the family failed. Wrappers ask it to pick a
   * fallback; the launcher asks it before every launch.
   */
  supports(family: KernelFamily, op: string, dtype: DType): boolean;
  /**
   * Runs a kernel on already validated arguments, queued in order on the device's stream.
   * `count` is the kernel's grid rule evaluated: elements for `elementwise`, rows for `rows`.
   */
  launch(family: KernelFamily, kernel: KernelSignature, args: readonly LaunchArg[], count: number): void;
  /** Waits until every queued launch and copy has finished. */
  synchronize(): void;

  /** (optional) The native stream handle ORT should share, as a pointer value. */
  readonly stream?: number;
  dispose(): void;
}

export type { DType };
