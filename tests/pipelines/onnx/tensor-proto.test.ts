import { describe, expect, test } from "bun:test";
import { onnx } from "onnx-proto";
import { dtypeOfArray, rawBytes, tensorData, tensorProto } from "../../../pipelines/onnx/tensor-proto.ts";

describe("tensorData", () => {
  test("reads the typed repeated fields other exporters write instead of raw_data", () => {
    expect(Array.from(tensorData({ name: "f", dataType: 1, dims: [3], floatData: [1.5, -2, 3] }) as Float32Array)).toEqual([1.5, -2, 3]);
    expect(Array.from(tensorData({ name: "h", dataType: 10, dims: [2], int32Data: [0x3c00, 0xc000] }) as Uint16Array)).toEqual([0x3c00, 0xc000]);
    expect(Array.from(tensorData({ name: "l", dataType: 7, dims: [2], int64Data: [5, -6] }) as BigInt64Array)).toEqual([5n, -6n]);
    expect(Array.from(tensorData({ name: "d", dataType: 11, dims: [1], doubleData: [0.1] }) as Float64Array)).toEqual([0.1]);
  });

  test("refuses element types it cannot hold, naming the tensor", () => {
    expect(() => tensorData({ name: "s", dataType: 8, dims: [1] })).toThrow(/tensor "s": element type 8 is not supported/);
  });
});

describe("tensorProto", () => {
  test("copies the bytes of a subarray, not its whole buffer", () => {
    const whole = Float32Array.of(9, 1, 2, 9);
    const t = tensorProto("t", "f32", [2], whole.subarray(1, 3));
    expect(t.rawData.byteLength).toBe(8);
    expect(Array.from(tensorData(onnx.TensorProto.decode(onnx.TensorProto.encode(t).finish())) as Float32Array)).toEqual([1, 2]);
  });

  test("rawBytes is a private copy", () => {
    const a = Int32Array.of(1);
    const bytes = rawBytes(a);
    a[0] = 2;
    expect(Array.from(bytes)).toEqual([1, 0, 0, 0]);
  });

  test("dtypeOfArray maps Uint16Array to f16 and BigInt64Array to i64", () => {
    expect([dtypeOfArray(new Uint16Array(1)), dtypeOfArray(new BigInt64Array(1)), dtypeOfArray(new Uint8Array(1))]).toEqual(["f16", "i64", "u8"]);
  });
});
