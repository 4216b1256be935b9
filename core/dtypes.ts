/**
 * The one table of element types: our short name, ONNX's TensorProto.DataType code (which ORT's
 * ONNXTensorElementDataType shares), the element size and the typed array that holds it (f16 and
 * bf16 as raw bits, bool as 0/1 bytes). ffi/, kernels/ and every layer above read it from here;
 * it imports nothing, so it sits below all of them.
 */
export const ELEMENT_TYPES = {
  f32: { onnx: 1, bytes: 4, array: Float32Array },
  u8: { onnx: 2, bytes: 1, array: Uint8Array },
  i8: { onnx: 3, bytes: 1, array: Int8Array },
  u16: { onnx: 4, bytes: 2, array: Uint16Array },
  i16: { onnx: 5, bytes: 2, array: Int16Array },
  i32: { onnx: 6, bytes: 4, array: Int32Array },
  i64: { onnx: 7, bytes: 8, array: BigInt64Array },
  bool: { onnx: 9, bytes: 1, array: Uint8Array },
  f16: { onnx: 10, bytes: 2, array: Uint16Array },
  f64: { onnx: 11, bytes: 8, array: Float64Array },
  u32: { onnx: 12, bytes: 4, array: Uint32Array },
  u64: { onnx: 13, bytes: 8, array: BigUint64Array },
  bf16: { onnx: 16, bytes: 2, array: Uint16Array },
} as const;

export type ElementType = keyof typeof ELEMENT_TYPES;

/** The rows of `names`, for a layer that handles only some element types. */
export function elementTypes<const N extends ElementType>(names: readonly N[]): { readonly [K in N]: (typeof ELEMENT_TYPES)[K] } {
  return Object.fromEntries(names.map((n) => [n, ELEMENT_TYPES[n]])) as { readonly [K in N]: (typeof ELEMENT_TYPES)[K] };
}
