import { describe, expect, test } from "bun:test";
import { ELEMENT_TYPES } from "../../core/dtypes.ts";
import { DTYPES } from "../../ffi/ort/dtype.ts";
import { bytesPerElement, KERNEL_DTYPES } from "../../kernels/signature.ts";
import { ONNX_DTYPES } from "../../pipelines/onnx/tensor-proto.ts";
import { sourcesMatching } from "../source-tree.ts";

describe("the one element-type table", () => {
  test("codes are onnx.proto's TensorProto.DataType, sizes the C sizes", () => {
    // Written from onnx.proto, not from the table.
    const onnxProto: Record<string, [number, number]> = {
      f32: [1, 4], u8: [2, 1], i8: [3, 1], u16: [4, 2], i16: [5, 2], i32: [6, 4], i64: [7, 8],
      bool: [9, 1], f16: [10, 2], f64: [11, 8], u32: [12, 4], u64: [13, 8], bf16: [16, 2],
    };
    const rows: Record<string, [number, number]> = Object.fromEntries(Object.entries(ELEMENT_TYPES).map(([k, t]) => [k, [t.onnx, t.bytes]]));
    expect(rows).toEqual(onnxProto);
    for (const t of Object.values(ELEMENT_TYPES)) expect(t.array.BYTES_PER_ELEMENT).toBe(t.bytes);
  });

  test("the ORT binding, the kernels and the ONNX writer read it", () => {
    for (const [name, t] of Object.entries(DTYPES)) expect(t as unknown).toBe(ELEMENT_TYPES[name as keyof typeof ELEMENT_TYPES]);
    for (const d of KERNEL_DTYPES) expect(bytesPerElement[d]).toBe(ELEMENT_TYPES[d].bytes);
    for (const [name, t] of Object.entries(ONNX_DTYPES)) {
      const row = ELEMENT_TYPES[name as keyof typeof ELEMENT_TYPES];
      expect([t.code, t.bytes, t.array]).toEqual([row.onnx, row.bytes, row.array]);
    }
  });

  test("no other source file maps element types to ONNX codes or sizes itself", () => {
    // a row of a dtype table: `f16: { onnx: 10` / `f16: { code: 10` / `{ f32: 4, f16: 2`
    const row = /\b(f16|f32)\s*:\s*\{\s*(onnx|code)\s*:\s*\d|\{\s*f32\s*:\s*4\s*,\s*f16\s*:\s*2/;
    const offenders = sourcesMatching(row, "core/dtypes.ts", ["pipelines", "recipes", "bin", "ffi", "kernels", "core"]);
    expect(offenders).toEqual([]);
  });
});
