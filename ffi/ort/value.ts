/**
 * Value: one OrtValue tensor. Values made from typed arrays wrap the JS memory (no copy); Values
 * that ORT produced are read through views over ORT's memory (no copy).
 *
 * Pointer stability (DESIGN.md, "ONNX Runtime through FFI"): ORT keeps the data pointer for the
 * Value's whole life, so the memory must not move. JavaScriptCore stores small typed arrays
 * (up to ~1000 elements) inline in the GC heap and moves their bytes into a fresh ArrayBuffer
 * the first time anyone reads `.buffer`. We read `.buffer` ourselves before taking the address:
 * from then on the bytes live in an ArrayBuffer, whose storage never moves, and the Value keeps
 * the typed array referenced. Detached and resizable buffers are refused. The soak test
 * (tests/ffi/ort/soak.test.ts) runs thousands of Runs on fresh tiny arrays under forced GCs.
 */
import { native, type Pointer } from "../native/index.ts";
import { ortApi } from "./api.ts";
import { type AnyDtypeArray, type Dtype, DTYPES, dtypeOfElementType, elementTypeName, isDtype, type TypedArrayOf } from "./dtype.ts";
import { OrtError, OrtErrorCode } from "./errors.ts";
import { check } from "./status.ts";
import { type MemoryInfo, memoryInfoDeviceType, memoryInfoName, sharedCpuMemoryInfo } from "./memory-info.ts";
import { outSlot, readOutInt32, readOutPointer } from "./native-memory.ts";

const released = new FinalizationRegistry<Pointer>((p) => ortApi().ReleaseValue(p));

/** Keeps the owning Value alive for as long as a data view over ORT memory is reachable. */
const OWNER = Symbol("latentloom.ort.value-owner");

/** Shape scratch at a fixed address: CreateTensor copies the dims, so one buffer serves all. */
const MAX_SCRATCH_RANK = 32;
const shapeScratch = new BigInt64Array(MAX_SCRATCH_RANK);
const shapeHalves = new Uint32Array(shapeScratch.buffer);
const SHAPE_SCRATCH: Pointer = native.addressOf(shapeScratch);

type Location = "cpu" | "device" | "unknown";

export class Value<D extends Dtype = Dtype> implements Disposable {
  #handle: Pointer;
  #keepAlive: unknown;
  #location: Location;
  #dtype: D | undefined;
  #shape: readonly number[] | undefined;
  #data: TypedArrayOf<D> | undefined;

  private constructor(handle: Pointer, location: Location, keepAlive?: unknown, dtype?: D, shape?: readonly number[], data?: TypedArrayOf<D>) {
    this.#handle = handle;
    this.#location = location;
    this.#keepAlive = keepAlive;
    this.#dtype = dtype;
    this.#shape = shape;
    this.#data = data;
    released.register(this, handle, this);
  }

  /**
   * Wraps `data` without copying: later writes to `data` are what the next Run sees. Storage per
   * dtype: f32 Float32Array, f16 Uint16Array (IEEE half bits), i32 Int32Array, i64 BigInt64Array,
   * u8 and bool Uint8Array. `data` must hold exactly the elements of `shape`.
   */
  static fromTypedArray<D extends Dtype>(dtype: D, shape: readonly number[], data: TypedArrayOf<D>): Value<D> {
    const info = dtypeInfo(dtype);
    if (!(data instanceof info.array)) {
      throw invalid(`Value.fromTypedArray: dtype ${dtype} needs a ${info.array.name}, got ${describe(data)}`);
    }
    const count = elementCount(shape, "Value.fromTypedArray");
    if (data.length !== count) {
      throw invalid(`Value.fromTypedArray: shape [${shape.join(",")}] holds ${count} elements but data has ${data.length}`);
    }
    // Materialise the ArrayBuffer before taking the address (see the file comment).
    const buffer = data.buffer as ArrayBuffer & { detached?: boolean; resizable?: boolean };
    if (buffer.detached) throw invalid("Value.fromTypedArray: data's ArrayBuffer is detached");
    if (buffer.resizable) throw invalid("Value.fromTypedArray: data's ArrayBuffer is resizable and could shrink under ORT");
    // An empty array may have no storage at all; ORT accepts any non-null pointer for 0 bytes.
    const p = data.byteLength ? native.addressOf(data) : SHAPE_SCRATCH;
    const copied = [...shape];
    const handle = createTensor(sharedCpuMemoryInfo(), p, data.byteLength, copied, info.onnx);
    return new Value<D>(handle, "cpu", data, dtype, copied, data);
  }

  /**
   * Wraps memory that is not JS memory, typically a CUDA device pointer with `MemoryInfo.cuda()`.
   * The caller keeps that memory alive (and unmoved) until this Value is disposed; ORT trusts
   * `memInfo`, so a host pointer labelled "Cuda" will crash.
   */
  static fromDevicePointer<D extends Dtype>(memInfo: MemoryInfo, pointer: number | bigint, byteLength: number, shape: readonly number[], dtype: D): Value<D> {
    const info = dtypeInfo(dtype);
    const count = elementCount(shape, "Value.fromDevicePointer");
    const address = Number(pointer) as Pointer;
    if (!address) throw invalid("Value.fromDevicePointer: pointer is NULL");
    if (byteLength < count * info.bytes) {
      throw invalid(`Value.fromDevicePointer: shape [${shape.join(",")}] of ${dtype} needs ${count * info.bytes} bytes, got ${byteLength}`);
    }
    const copied = [...shape];
    const handle = createTensor(memInfo.ptr, address, byteLength, copied, info.onnx);
    const location = memoryInfoDeviceType(memInfo.ptr) === "cpu" ? "cpu" : "device";
    return new Value<D>(handle, location, undefined, dtype, copied);
  }

  /** Takes ownership of an OrtValue that ORT created (Run or IoBinding outputs). @internal */
  static adopt(handle: Pointer, onHost: boolean): Value {
    return new Value(handle, onHost ? "cpu" : "unknown");
  }

  /** The OrtValue*; throws once disposed. */
  get handle(): Pointer {
    if (!this.#handle) throw new OrtError(OrtErrorCode.INVALID_ARGUMENT, "Value used after dispose()");
    return this.#handle;
  }

  get disposed(): boolean {
    return this.#handle === 0;
  }

  get dtype(): D {
    if (this.#dtype === undefined) this.#readTypeAndShape();
    return this.#dtype as D;
  }

  get shape(): readonly number[] {
    if (this.#shape === undefined) this.#readTypeAndShape();
    return this.#shape as readonly number[];
  }

  /** Number of elements. */
  get size(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  /** True when the tensor's memory is host memory (so `.data` can view it). */
  get onHost(): boolean {
    if (this.#location === "unknown") {
      check(ortApi().GetTensorMemoryInfo(this.handle, outSlot()));
      this.#location = memoryInfoDeviceType(readOutPointer()) === "cpu" ? "cpu" : "device";
    }
    return this.#location === "cpu";
  }

  /**
   * The elements as a typed array over the tensor's own memory (no copy). For ORT-made Values
   * the view is valid until dispose(); holding it keeps the Value from being collected.
   */
  get data(): TypedArrayOf<D> {
    if (this.#data) return this.#data;
    if (!this.onHost) {
      check(ortApi().GetTensorMemoryInfo(this.handle, outSlot()));
      throw invalid(`Value.data: the tensor lives in ${memoryInfoName(readOutPointer())} memory; copy it to the host first`);
    }
    const info = DTYPES[this.dtype];
    const count = this.size;
    if (count === 0) return (this.#data = new info.array(new ArrayBuffer(0), 0, 0) as TypedArrayOf<D>);
    check(ortApi().GetTensorMutableData(this.handle, outSlot()));
    const buffer = native.bytesAt(readOutPointer(), 0, count * info.bytes);
    Object.defineProperty(buffer, OWNER, { value: this });
    this.#data = new info.array(buffer, 0, count) as TypedArrayOf<D>;
    return this.#data;
  }

  #readTypeAndShape(): void {
    check(ortApi().GetTensorElementTypeAndShapeDataReference(this.handle, outSlot(0), outSlot(1), outSlot(2)));
    const elementType = readOutInt32(0);
    const dims = readOutPointer(1);
    const rank = native.read.u32(outSlot(2), 0);
    const dtype = dtypeOfElementType(elementType);
    if (dtype === undefined) {
      throw new OrtError(OrtErrorCode.NOT_IMPLEMENTED, `Value holds ${elementTypeName(elementType)} elements, which Values do not support`);
    }
    const shape: number[] = [];
    for (let i = 0; i < rank; i++) shape.push(native.read.u32(dims, i * 8) + native.read.i32(dims, i * 8 + 4) * 0x1_0000_0000);
    this.#dtype = dtype as D;
    this.#shape = shape;
  }

  dispose(): void {
    if (!this.#handle) return;
    released.unregister(this);
    ortApi().ReleaseValue(this.#handle);
    this.#handle = 0 as Pointer;
    this.#data = undefined;
    this.#keepAlive = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function createTensor(memInfo: Pointer, data: Pointer, byteLength: number, shape: readonly number[], elementType: number): Pointer {
  let shapeArg: Pointer | BigInt64Array = SHAPE_SCRATCH;
  if (shape.length <= MAX_SCRATCH_RANK) {
    for (let i = 0; i < shape.length; i++) {
      const d = shape[i] as number;
      shapeHalves[2 * i] = d >>> 0;
      shapeHalves[2 * i + 1] = (d / 0x1_0000_0000) >>> 0;
    }
  } else {
    shapeArg = BigInt64Array.from(shape, BigInt);
  }
  check(ortApi().CreateTensorWithDataAsOrtValue(memInfo, data, byteLength, shapeArg, shape.length, elementType, outSlot()));
  return readOutPointer();
}

function dtypeInfo(dtype: string): (typeof DTYPES)[Dtype] {
  if (!isDtype(dtype)) throw invalid(`dtype "${dtype}" is not one of ${Object.keys(DTYPES).join(", ")}`);
  return DTYPES[dtype];
}

function elementCount(shape: readonly number[], where: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw invalid(`${where}: shape [${shape.join(",")}] must hold non-negative integers`);
    n *= d;
  }
  return n;
}

function describe(data: unknown): string {
  return (data as AnyDtypeArray | undefined)?.constructor?.name ?? typeof data;
}

function invalid(message: string): OrtError {
  return new OrtError(OrtErrorCode.INVALID_ARGUMENT, message);
}
