/**
 * TensorProto encoding and decoding: element types, raw little-endian bytes, external data
 * references (`location` / `offset` / `length`, as in onnx.proto's TensorProto.external_data).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { ELEMENT_TYPES, type ElementType } from "../../core/dtypes.ts";

/** Element types the builder writes, by our short names. */
export const ONNX_DTYPES = Object.fromEntries(
  Object.entries(ELEMENT_TYPES).map(([name, t]) => [name, { code: t.onnx, bytes: t.bytes, array: t.array }]),
) as { readonly [K in ElementType]: { readonly code: (typeof ELEMENT_TYPES)[K]["onnx"]; readonly bytes: number; readonly array: (typeof ELEMENT_TYPES)[K]["array"] } };
export type OnnxDtype = keyof typeof ONNX_DTYPES;

/** Typed array holding each element type (f16/bf16 as raw bits, bool as 0/1 bytes). */
export interface OnnxArrays {
  f32: Float32Array;
  u8: Uint8Array;
  i8: Int8Array;
  u16: Uint16Array;
  i16: Int16Array;
  i32: Int32Array;
  i64: BigInt64Array;
  bool: Uint8Array;
  f16: Uint16Array;
  f64: Float64Array;
  u32: Uint32Array;
  u64: BigUint64Array;
  bf16: Uint16Array;
}
export type OnnxArray<D extends OnnxDtype> = OnnxArrays[D];
export type AnyOnnxArray = OnnxArrays[OnnxDtype];

export function onnxDtype(name: string): (typeof ONNX_DTYPES)[OnnxDtype] {
  if (!Object.hasOwn(ONNX_DTYPES, name)) {
    throw new TypeError(`dtype "${name}" is not one of ${Object.keys(ONNX_DTYPES).join(", ")}`);
  }
  return ONNX_DTYPES[name as OnnxDtype];
}

/** Our name for an ONNX TensorProto.DataType code, or undefined when we do not handle it. */
export function dtypeOfCode(code: number): OnnxDtype | undefined {
  return (Object.keys(ONNX_DTYPES) as OnnxDtype[]).find((k) => ONNX_DTYPES[k].code === code);
}

/** The dtype a typed array most naturally holds (Uint8Array → u8, Uint16Array → f16). */
export function dtypeOfArray(data: AnyOnnxArray): OnnxDtype {
  if (data instanceof Float32Array) return "f32";
  if (data instanceof Float64Array) return "f64";
  if (data instanceof Int32Array) return "i32";
  if (data instanceof BigInt64Array) return "i64";
  if (data instanceof BigUint64Array) return "u64";
  if (data instanceof Uint8Array) return "u8";
  if (data instanceof Int8Array) return "i8";
  if (data instanceof Uint16Array) return "f16";
  if (data instanceof Int16Array) return "i16";
  if (data instanceof Uint32Array) return "u32";
  throw new TypeError(`cannot store a ${(data as object).constructor.name} in an ONNX tensor`);
}

/** The little-endian bytes of `data` (a copy, so later changes to `data` do not leak in). */
export function rawBytes(data: AnyOnnxArray): Uint8Array {
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** Checks that `data` fits `dtype` and holds exactly the elements of `shape`. */
export function checkTensorData(name: string, dtype: OnnxDtype, shape: readonly number[], data: AnyOnnxArray): void {
  const info = onnxDtype(dtype);
  if (!(data instanceof info.array)) {
    throw new TypeError(`tensor "${name}": dtype ${dtype} needs a ${info.array.name}, got ${(data as object).constructor.name}`);
  }
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`tensor "${name}": shape [${shape}] must hold non-negative integers`);
    count *= d;
  }
  if (data.length !== count) {
    throw new RangeError(`tensor "${name}": shape [${shape}] holds ${count} elements but data has ${data.length}`);
  }
}

/** A TensorProto with the data inline as raw_data. */
export function tensorProto(name: string, dtype: OnnxDtype, shape: readonly number[], data: AnyOnnxArray): onnx.TensorProto {
  checkTensorData(name, dtype, shape, data);
  return onnx.TensorProto.create({ name, dataType: ONNX_DTYPES[dtype].code, dims: [...shape], rawData: rawBytes(data) });
}

/** Key/value entries of a tensor's external_data, as a plain record. */
export function externalDataEntries(tensor: onnx.ITensorProto): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const e of tensor.externalData ?? []) if (e.key) entries[e.key] = e.value ?? "";
  return entries;
}

/**
 * Decodes a tensor's elements. Reads raw_data, the typed repeated fields, or external data
 * (resolved against `externalDir`, which is required for such tensors).
 */
export function tensorData(tensor: onnx.ITensorProto, externalDir?: string): AnyOnnxArray {
  const dtype = dtypeOfCode(tensor.dataType ?? 0);
  if (!dtype) throw new TypeError(`tensor "${tensor.name}": element type ${tensor.dataType} is not supported here`);
  const info = ONNX_DTYPES[dtype];
  const count = (tensor.dims ?? []).reduce<number>((n, d) => n * Number(d), 1);
  let bytes: Uint8Array | undefined;
  if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const ext = externalDataEntries(tensor);
    if (!externalDir) throw new TypeError(`tensor "${tensor.name}" keeps its data in "${ext.location}"; pass the folder holding it`);
    const file = readFileSync(join(externalDir, ext.location ?? ""));
    const offset = Number(ext.offset ?? 0);
    const length = ext.length !== undefined ? Number(ext.length) : file.byteLength - offset;
    bytes = file.subarray(offset, offset + length);
  } else if (tensor.rawData && tensor.rawData.length > 0) {
    bytes = tensor.rawData;
  }
  if (bytes) {
    const copy = new Uint8Array(bytes); // aligned private copy
    return new info.array(copy.buffer, 0, count) as AnyOnnxArray;
  }
  return fromTypedFields(tensor, dtype, count);
}

function fromTypedFields(tensor: onnx.ITensorProto, dtype: OnnxDtype, count: number): AnyOnnxArray {
  const numbers = (values: ReadonlyArray<number | { toString(): string }> | null | undefined) =>
    (values ?? []).map((v) => Number(v.toString()));
  switch (dtype) {
    case "f32":
      return Float32Array.from(tensor.floatData ?? []);
    case "f64":
      return Float64Array.from(tensor.doubleData ?? []);
    case "i64":
      return BigInt64Array.from((tensor.int64Data ?? []).map((v) => BigInt(v.toString())));
    case "u64":
    case "u32":
      return dtype === "u64"
        ? BigUint64Array.from((tensor.uint64Data ?? []).map((v) => BigUint64(v)))
        : Uint32Array.from(numbers(tensor.uint64Data));
    default: {
      // int32_data also carries i8/u8/i16/u16/bool and f16/bf16 bits, one element per entry.
      const Array_ = ONNX_DTYPES[dtype].array as new (n: number) => AnyOnnxArray;
      const out = new Array_(count);
      const slots = out as unknown as { [i: number]: number };
      numbers(tensor.int32Data).forEach((v, i) => (slots[i] = v));
      return out;
    }
  }
}

function BigUint64(v: number | { toString(): string }): bigint {
  return BigInt.asUintN(64, BigInt(v.toString()));
}
