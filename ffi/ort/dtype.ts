import { elementTypes } from "../../core/dtypes.ts";

/** Element types a Value can hold, as spelled across the project. */
export type Dtype = "f32" | "f16" | "i32" | "i64" | "u8" | "bool";

/** The typed array that holds each dtype (f16 as raw IEEE half bits). */
export interface DtypeArray {
  f32: Float32Array;
  f16: Uint16Array;
  i32: Int32Array;
  i64: BigInt64Array;
  u8: Uint8Array;
  bool: Uint8Array;
}
export type TypedArrayOf<D extends Dtype> = DtypeArray[D];
export type AnyDtypeArray = DtypeArray[Dtype];

interface DtypeInfo {
  readonly onnx: number;
  readonly bytes: number;
  readonly array: new (buffer: ArrayBuffer, byteOffset: number, length: number) => AnyDtypeArray;
}

/** ONNX TensorProto.DataType value, element size and storage of each Dtype. */
export const DTYPES: Readonly<Record<Dtype, DtypeInfo>> = elementTypes(["f32", "u8", "i32", "i64", "bool", "f16"]);

export const DTYPE_NAMES = Object.keys(DTYPES) as Dtype[];

/** Names for every ONNX element type, so metadata can describe inputs we cannot feed. */
const ELEMENT_TYPE_NAMES: readonly string[] = [
  "undefined", "f32", "u8", "i8", "u16", "i16", "i32", "i64", "string", "bool", "f16", "f64", "u32", "u64",
  "complex64", "complex128", "bf16", "f8e4m3fn", "f8e4m3fnuz", "f8e5m2", "f8e5m2fnuz", "u4", "i4", "f4e2m1",
  "u2", "i2", "f8e8m0",
];

/** Our name for ONNX element type `onnx` ("f32", …, or e.g. "f64" for types Values do not hold). */
export function elementTypeName(onnx: number): string {
  return ELEMENT_TYPE_NAMES[onnx] ?? `onnx-type-${onnx}`;
}

const DTYPE_BY_ELEMENT_TYPE: (Dtype | undefined)[] = [];
for (const name of DTYPE_NAMES) DTYPE_BY_ELEMENT_TYPE[DTYPES[name].onnx] = name;

/** The Dtype for ONNX element type `onnx`, or undefined when Values cannot hold it. */
export function dtypeOfElementType(onnx: number): Dtype | undefined {
  return DTYPE_BY_ELEMENT_TYPE[onnx];
}

export function isDtype(value: string): value is Dtype {
  return Object.hasOwn(DTYPES, value);
}
