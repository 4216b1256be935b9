import { ELEMENT_TYPES } from "../../core/dtypes.ts";
import { bytesPerElement, type DType } from "../../kernels/signature.ts";
import type { Backend, Storage } from "./backend.ts";

export type HostArray = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

const hostArrays = {
  f32: ELEMENT_TYPES.f32.array,
  f16: ELEMENT_TYPES.f16.array, // IEEE half bit patterns
  i32: ELEMENT_TYPES.i32.array,
  i64: ELEMENT_TYPES.i64.array,
  u8: ELEMENT_TYPES.u8.array,
} as const;

/** Device memory is returned when a tensor is dropped without dispose(); dispose() is the plan. */
const leaked = new FinalizationRegistry<{ backend: Backend; storage: Storage }>(({ backend, storage }) =>
  backend.free(storage),
);

/**
 * A dense, row-major tensor on one device. CPU tensors live in a JS ArrayBuffer, CUDA tensors in
 * device memory. `view` tensors share storage and do not free it.
 */
export class Tensor implements Disposable {
  private disposed = false;

  private constructor(
    readonly backend: Backend,
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly storage: Storage,
    readonly byteOffset: number,
    private readonly owner: boolean,
  ) {
    if (owner && storage.kind !== "cpu") leaked.register(this, { backend, storage }, this);
  }

  /** A zero-filled tensor. */
  static empty(backend: Backend, dtype: DType, shape: readonly number[]): Tensor {
    const size = checkShape(shape);
    return new Tensor(backend, dtype, [...shape], backend.alloc(size * bytesPerElement[dtype]), 0, true);
  }

  /**
   * A tensor whose contents are unspecified (a buffer from the backend's pool keeps its last
   * user's bytes): for outputs that a model run or a kernel overwrites entirely.
   */
  static uninitialized(backend: Backend, dtype: DType, shape: readonly number[]): Tensor {
    const size = checkShape(shape);
    return new Tensor(backend, dtype, [...shape], backend.alloc(size * bytesPerElement[dtype], false), 0, true);
  }

  /** `parts` one after another along axis 0 (same dtype, backend and trailing shape), as a new tensor. */
  static concat(parts: readonly Tensor[]): Tensor {
    const first = parts[0];
    if (!first) throw new RangeError("Tensor.concat needs at least one tensor");
    const tail = first.shape.slice(1);
    for (const p of parts) {
      if (p.dtype !== first.dtype || p.backend !== first.backend || p.shape.length !== first.shape.length || p.shape.some((d, i) => i > 0 && d !== first.shape[i])) {
        throw new RangeError(`Tensor.concat: ${p.dtype} [${p.shape.join(", ")}] does not stack under ${first.dtype} [${first.shape.join(", ")}]`);
      }
    }
    const out = Tensor.uninitialized(first.backend, first.dtype, [parts.reduce((n, p) => n + p.shape[0]!, 0), ...tail]);
    let at = 0;
    for (const p of parts) {
      first.backend.copy(out.storage, at, p.storage, p.byteOffset, p.byteLength);
      at += p.byteLength;
    }
    return out;
  }

  /** Copies host data onto the backend's device. */
  static from(backend: Backend, dtype: DType, shape: readonly number[], data: ArrayLike<number> | HostArray): Tensor {
    const size = checkShape(shape);
    if (data.length !== size) {
      throw new RangeError(`tensor data has ${data.length} elements, shape [${shape.join(", ")}] needs ${size}`);
    }
    const host = data instanceof hostArrays[dtype] ? (data as HostArray) : toHostArray(dtype, data as ArrayLike<number>);
    const t = Tensor.uninitialized(backend, dtype, shape);
    backend.write(t.storage, 0, host);
    return t;
  }

  get device(): string {
    return this.backend.device;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get byteLength(): number {
    return this.size * bytesPerElement[this.dtype];
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** A copy of the contents in host memory. */
  read(): HostArray {
    this.assertLive();
    const out = new hostArrays[this.dtype](this.size);
    this.backend.read(this.storage, this.byteOffset, out);
    return out;
  }

  /** The contents as f32 on the host (f16 widened): for reading results and tests. */
  readF32(): Float32Array {
    const data = this.read();
    if (this.dtype === "f32") return data as Float32Array;
    if (this.dtype === "f16") return Float32Array.from(new Float16Array(data.buffer, data.byteOffset, data.length));
    throw new TypeError(`readF32() needs an f32 or f16 tensor, this one is ${this.dtype}`);
  }

  /**
   * The contents in place, without copying: CPU tensors only. The view is valid while the tensor is.
   */
  hostView(): HostArray {
    this.assertLive();
    if (this.storage.kind !== "cpu") throw new Error(`hostView() needs a cpu tensor, this one is on ${this.device}`);
    return new hostArrays[this.dtype](this.storage.buffer, this.byteOffset, this.size);
  }

  /** The same memory with another shape of the same size. */
  reshape(shape: readonly number[]): Tensor {
    this.assertLive();
    if (checkShape(shape) !== this.size) {
      throw new RangeError(`cannot reshape [${this.shape.join(", ")}] to [${shape.join(", ")}]`);
    }
    return new Tensor(this.backend, this.dtype, [...shape], this.storage, this.byteOffset, false);
  }

  /** Items [start, end) along the first axis, sharing memory. */
  slice(start: number, end: number): Tensor {
    this.assertLive();
    const [first = 0, ...rest] = this.shape;
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= first)) {
      throw new RangeError(`slice [${start}, ${end}) is outside the first axis of length ${first}`);
    }
    const item = rest.reduce((a, b) => a * b, 1) * bytesPerElement[this.dtype];
    return new Tensor(this.backend, this.dtype, [end - start, ...rest], this.storage, this.byteOffset + start * item, false);
  }

  /** A copy on another backend (or the same one). */
  to(backend: Backend): Tensor {
    this.assertLive();
    if (backend === this.backend) {
      const t = Tensor.empty(backend, this.dtype, this.shape);
      backend.copy(t.storage, 0, this.storage, this.byteOffset, this.byteLength);
      return t;
    }
    return Tensor.from(backend, this.dtype, this.shape, this.read());
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.owner) {
      // Only device memory was registered (the collector takes host memory by itself).
      if (this.storage.kind !== "cpu") leaked.unregister(this);
      this.backend.free(this.storage);
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  assertLive(): void {
    if (this.disposed) throw new Error(`tensor [${this.shape.join(", ")}] ${this.dtype} was used after dispose()`);
  }
}

function checkShape(shape: readonly number[]): number {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`bad tensor shape [${shape.join(", ")}]`);
  }
  return shape.reduce((a, b) => a * b, 1);
}

function toHostArray(dtype: DType, data: ArrayLike<number>): HostArray {
  if (dtype === "i64") return BigInt64Array.from(Array.from(data, (v) => BigInt(v)));
  if (dtype === "f16") throw new TypeError("f16 tensor data must be a Uint16Array of half bits");
  return hostArrays[dtype].from(data as ArrayLike<number>);
}
