import { describe, expect, test } from "bun:test";
import { MemoryInfo, OrtError, Session, Value } from "../../../ffi/ort/index.ts";
import { NativeBuffer } from "../../../ffi/ort/native-memory.ts";
import { GraphBuilder } from "../../../pipelines/onnx/model-builder.ts";

function doubler(): Uint8Array {
  const g = new GraphBuilder("double");
  const x = g.input("x", "f32", [4]);
  g.output(g.node("Add", [x, x]), "f32", [4], "y");
  return g.toModel();
}

describe("Value", () => {
  describe("fromTypedArray", () => {
    test("wraps the array without copying, so later writes reach the next Run", () => {
      using session = Session.create(doubler());
      const data = Float32Array.of(1, 2, 3, 4);
      using x = Value.fromTypedArray("f32", [4], data);
      expect(x.data).toBe(data);
      data[0] = 100;
      using y = session.run({ x }).y as Value<"f32">;
      expect(Array.from(y.data)).toEqual([200, 4, 6, 8]);
    });

    test("reports dtype, shape and size", () => {
      using v = Value.fromTypedArray("i64", [2, 1, 3], new BigInt64Array(6));
      expect([v.dtype, v.shape, v.size, v.onHost]).toEqual(["i64", [2, 1, 3], 6, true]);
    });

    test("accepts an empty tensor", () => {
      using v = Value.fromTypedArray("f32", [0, 3], new Float32Array(0));
      expect(v.shape).toEqual([0, 3]);
      expect(v.data.length).toBe(0);
    });

    test("refuses an array of the wrong type for the dtype", () => {
      expect(() => Value.fromTypedArray("f32", [2], new Int32Array(2) as never)).toThrow(
        /dtype f32 needs a Float32Array, got Int32Array/,
      );
    });

    test("refuses data whose length does not match the shape", () => {
      expect(() => Value.fromTypedArray("u8", [2, 3], new Uint8Array(5))).toThrow(/shape \[2,3\] holds 6 elements but data has 5/);
    });

    test("refuses negative or fractional dimensions", () => {
      expect(() => Value.fromTypedArray("f32", [-1, 2], new Float32Array(2))).toThrow(/non-negative integers/);
    });

    test("refuses an unknown dtype naming the valid ones", () => {
      expect(() => Value.fromTypedArray("f64" as never, [1], new Float64Array(1) as never)).toThrow(
        /dtype "f64" is not one of f32, u8, i32, i64, bool, f16/,
      );
    });

    test("refuses a resizable ArrayBuffer, which could shrink under ORT", () => {
      const buffer = new ArrayBuffer(16, { maxByteLength: 64 });
      expect(() => Value.fromTypedArray("f32", [4], new Float32Array(buffer, 0, 4))).toThrow(/resizable/);
    });

    test("keeps a small array's address stable after wrapping it", () => {
      // A fresh 4-element array lives inline in the GC heap until `.buffer` is read; wrapping
      // must have moved it into its ArrayBuffer already, so reading `.buffer` later changes nothing.
      using session = Session.create(doubler());
      const data = Float32Array.of(1, 2, 3, 4);
      using x = Value.fromTypedArray("f32", [4], data);
      void data.buffer;
      data[3] = 10;
      using y = session.run({ x }).y as Value<"f32">;
      expect(Array.from(y.data)).toEqual([2, 4, 6, 20]);
    });
  });

  describe("outputs made by ORT", () => {
    test("view ORT's memory until disposed, then refuse use", () => {
      using session = Session.create(doubler());
      using x = Value.fromTypedArray("f32", [4], Float32Array.of(1, 2, 3, 4));
      const y = session.run({ x }).y as Value<"f32">;
      expect(y.data).toBeInstanceOf(Float32Array);
      expect(y.data).toBe(y.data);
      expect(Array.from(y.data)).toEqual([2, 4, 6, 8]);
      y.dispose();
      y.dispose();
      expect(y.disposed).toBe(true);
      expect(() => y.data).toThrow(/Value used after dispose/);
    });
  });

  describe("fromDevicePointer", () => {
    test("wraps native host memory in place when given a CPU MemoryInfo", () => {
      using session = Session.create(doubler());
      using mem = NativeBuffer.alloc(16);
      const view = new Float32Array(mem.bytes().buffer, 0, 4);
      view.set([1, 2, 3, 4]);
      using cpu = MemoryInfo.cpu();
      using x = Value.fromDevicePointer(cpu, mem.ptr, 16, [4], "f32");
      expect(x.onHost).toBe(true);
      view[1] = 50;
      using y = session.run({ x }).y as Value<"f32">;
      expect(Array.from(y.data)).toEqual([2, 100, 6, 8]);
    });

    test("marks CUDA memory as off-host, so .data refuses instead of reading it", () => {
      using cuda = MemoryInfo.cuda(0);
      expect([cuda.name, cuda.deviceType, cuda.deviceId]).toEqual(["Cuda", "gpu", 0]);
      // Never dereferenced: ORT only records the address.
      using v = Value.fromDevicePointer(cuda, 0x1000, 64, [16], "f32");
      expect(v.onHost).toBe(false);
      expect([v.dtype, v.shape]).toEqual(["f32", [16]]);
      expect(() => v.data).toThrow(/lives in Cuda memory; copy it to the host first/);
    });

    test("refuses too few bytes for the shape", () => {
      using cpu = MemoryInfo.cpu();
      expect(() => Value.fromDevicePointer(cpu, 0x1000, 8, [4], "f32")).toThrow(/needs 16 bytes, got 8/);
    });

    test("refuses a NULL pointer", () => {
      using cpu = MemoryInfo.cpu();
      expect(() => Value.fromDevicePointer(cpu, 0, 16, [4], "f32")).toThrow(OrtError);
    });
  });

  describe("MemoryInfo", () => {
    test("describes host memory and disposes idempotently", () => {
      const cpu = MemoryInfo.cpu();
      expect([cpu.name, cpu.deviceType]).toEqual(["Cpu", "cpu"]);
      cpu.dispose();
      cpu.dispose();
      expect(() => cpu.ptr).toThrow(/after dispose/);
    });
  });
});
