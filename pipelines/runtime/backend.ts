import type { DType, KernelFamily, KernelSignature } from "../../kernels/signature.ts";

/** `cpu` or `cuda:N`. */
export type DeviceName = "cpu" | `cuda:${number}`;

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

  /** Allocates `bytes` bytes (zeroed). */
  alloc(bytes: number): Storage;
  /** Releases memory from `alloc`; CPU memory is left to the garbage collector. */
  free(storage: Storage): void;
  /** Copies host bytes into storage at `byteOffset`. */
  write(storage: Storage, byteOffset: number, src: ArrayBufferView): void;
  /** Copies storage bytes at `byteOffset` into host memory; waits for queued work first. */
  read(storage: Storage, byteOffset: number, dst: ArrayBufferView): void;
  /** Device-to-device copy. */
  copy(dst: Storage, dstOffset: number, src: Storage, srcOffset: number, bytes: number): void;

  /** Whether this backend can run the kernel for these dtypes; a string says why not. */
  supports(family: KernelFamily, kernel: KernelSignature): true | string;
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
