import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { attr, encodeModel, GraphBuilder, readModel } from "../../../pipelines/onnx/model-builder.ts";
import { initializerData, opsetVersion } from "../../../pipelines/onnx/model-reader.ts";
import { externalDataEntries } from "../../../pipelines/onnx/tensor-proto.ts";

const AttrType = onnx.AttributeProto.AttributeType;

function attentionLike(): GraphBuilder {
  const g = new GraphBuilder("attn");
  const x = g.input("hidden_states", "f32", ["batch", "seq", 8]);
  const wq = g.initializer("to_q.weight", Float32Array.from({ length: 64 }, (_, i) => i / 64), [8, 8]);
  const q = g.node("MatMul", [x, wq], { name: "/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul" });
  const p = g.node("Softmax", [q], { name: "/down_blocks.0/attentions.0/transformer_blocks.0/attn1/Softmax", attrs: { axis: -1 } });
  g.output(p, "f32", ["batch", "seq", 8], "probs");
  return g;
}

describe("GraphBuilder", () => {
  describe("toModel", () => {
    const model = readModel(attentionLike().toModel({ opset: 17 }));

    test("writes IR version 8, the producer and the requested opset", () => {
      expect(Number(model.irVersion)).toBe(8);
      expect(model.producerName).toBe("latentloom");
      expect(opsetVersion(model)).toBe(17);
    });

    test("keeps node names, op types, inputs and outputs in order", () => {
      const nodes = model.graph?.node ?? [];
      expect(nodes.map((n) => [n.name, n.opType, n.input, n.output])).toEqual([
        ["/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul", "MatMul", ["hidden_states", "to_q.weight"], ["/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul_output_0"]],
        ["/down_blocks.0/attentions.0/transformer_blocks.0/attn1/Softmax", "Softmax", ["/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul_output_0"], ["/down_blocks.0/attentions.0/transformer_blocks.0/attn1/Softmax_output_0"]],
        ["Identity_0", "Identity", ["/down_blocks.0/attentions.0/transformer_blocks.0/attn1/Softmax_output_0"], ["probs"]],
      ]);
    });

    test("writes symbolic and fixed dims of inputs", () => {
      const dims = model.graph?.input?.[0]?.type?.tensorType?.shape?.dim ?? [];
      expect(dims.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)))).toEqual(["batch", "seq", 8]);
      expect(model.graph?.input?.[0]?.type?.tensorType?.elemType).toBe(1);
    });

    test("stores initializers inline as raw little-endian bytes that decode back exactly", () => {
      const w = initializerData(model, "to_q.weight") as Float32Array;
      expect(w).toBeInstanceOf(Float32Array);
      expect(Array.from(w)).toEqual(Array.from({ length: 64 }, (_, i) => Math.fround(i / 64)));
    });

    test("round-trips every dtype's initializer bits", () => {
      const g = new GraphBuilder("dtypes");
      g.initializer("f16", Uint16Array.of(0x3c00, 0xc000), [2]);
      g.initializer("i64", BigInt64Array.of(-5n, 1n << 40n), [2]);
      g.initializer("bool", Uint8Array.of(1, 0, 1), [3], "bool");
      g.initializer("i32", Int32Array.of(-7), [1]);
      const m = readModel(g.toModel());
      expect(m.graph?.initializer?.map((t) => t.dataType)).toEqual([10, 7, 9, 6]);
      expect(Array.from(initializerData(m, "f16") as Uint16Array)).toEqual([0x3c00, 0xc000]);
      expect(Array.from(initializerData(m, "i64") as BigInt64Array)).toEqual([-5n, 1n << 40n]);
      expect(Array.from(initializerData(m, "bool") as Uint8Array)).toEqual([1, 0, 1]);
      expect(Array.from(initializerData(m, "i32") as Int32Array)).toEqual([-7]);
    });
  });

  describe("attributes", () => {
    const g = new GraphBuilder("attrs");
    const x = g.input("x", "f32", [1]);
    g.output(
      g.node("Custom", [x], {
        domain: "test.domain",
        attrs: {
          count: 3,
          alpha: 0.25,
          beta: attr.float(1),
          mode: "nearest",
          pads: [1, 1, 0, 0],
          scales: [1, 2.5],
          weights: Float32Array.of(1, 2),
          exact: attr.floats([1, 2]),
          value: attr.tensor(Int32Array.of(4, 5, 6), [3]),
        },
      }),
      "f32",
    );
    const node = readModel(g.toModel({ extraOpsets: { "test.domain": 1 } })).graph?.node?.[0];
    const byName = Object.fromEntries((node?.attribute ?? []).map((a) => [a.name, a]));

    test("types plain values by what they hold", () => {
      expect(Object.fromEntries(Object.entries(byName).map(([k, a]) => [k, (a as onnx.IAttributeProto).type]))).toEqual({
        count: AttrType.INT,
        alpha: AttrType.FLOAT,
        beta: AttrType.FLOAT,
        mode: AttrType.STRING,
        pads: AttrType.INTS,
        scales: AttrType.FLOATS,
        weights: AttrType.FLOATS,
        exact: AttrType.FLOATS,
        value: AttrType.TENSOR,
      });
    });

    test("stores the values themselves", () => {
      expect(Number(byName.count?.i)).toBe(3);
      expect(byName.alpha?.f).toBe(0.25);
      expect(new TextDecoder().decode(byName.mode?.s ?? new Uint8Array())).toBe("nearest");
      expect(byName.pads?.ints?.map(Number)).toEqual([1, 1, 0, 0]);
      expect(byName.scales?.floats).toEqual([1, 2.5]);
      expect(byName.value?.t?.dims?.map(Number)).toEqual([3]);
      expect(node?.domain).toBe("test.domain");
    });

    test("refuses a fractional value in an int attribute", () => {
      const b = new GraphBuilder("bad");
      const x = b.input("x", "f32", [1]);
      expect(() => b.node("Foo", [x], { attrs: { n: attr.int(1.5) } })).toThrow(/attribute n: 1.5 is not an integer/);
    });
  });

  describe("mistakes", () => {
    test("an input that was never defined is named", () => {
      const g = new GraphBuilder("g");
      expect(() => g.node("Relu", [{ name: "ghost" }])).toThrow(/input "ghost" is not defined in graph "g"/);
    });

    test("a value defined twice is named", () => {
      const g = new GraphBuilder("g");
      g.input("x", "f32", [1]);
      expect(() => g.initializer("x", new Float32Array(1), [1])).toThrow(/value "x" is defined twice/);
    });

    test("initializer data that does not fit its shape is named", () => {
      const g = new GraphBuilder("g");
      expect(() => g.initializer("w", new Float32Array(5), [2, 3])).toThrow(/tensor "w": shape \[2,3\] holds 6 elements but data has 5/);
    });

    test("an unknown dtype names the valid ones", () => {
      const g = new GraphBuilder("g");
      expect(() => g.input("x", "f8" as never, [1])).toThrow(/dtype "f8" is not one of f32, u8, i8/);
    });

    test("malformed bytes are a ModelError", () => {
      expect(() => readModel(Uint8Array.of(0xff, 0xff, 0xff, 0xff), "broken.onnx")).toThrow(/broken\.onnx is not an ONNX model/);
    });
  });

  describe("external data", () => {
    const dir = mkdtempSync(join(tmpdir(), "latentloom-onnx-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    function weighted(): GraphBuilder {
      const g = new GraphBuilder("ext");
      const x = g.input("x", "f32", [4]);
      const big = g.initializer("big", Float32Array.from({ length: 100 }, (_, i) => i), [100]);
      const small = g.initializer("small", Float32Array.of(1, 2, 3, 4), [4]);
      const other = g.initializer("other", Float32Array.from({ length: 30 }, (_, i) => -i), [30]);
      g.output(g.node("Add", [x, small]), "f32", [4], "y");
      void big;
      void other;
      return g;
    }

    test("moves initializers of at least minBytes out, aligned, with location/offset/length", () => {
      const { model, weights } = weighted().toModelWithExternalData({ location: "w.bin", minBytes: 64, align: 64 });
      const m = readModel(model);
      const tensors = Object.fromEntries((m.graph?.initializer ?? []).map((t) => [t.name, t]));
      expect(tensors.small?.dataLocation ?? 0).toBe(0);
      expect(externalDataEntries(tensors.big ?? {})).toEqual({ location: "w.bin", offset: "0", length: "400" });
      expect(externalDataEntries(tensors.other ?? {})).toEqual({ location: "w.bin", offset: "448", length: "120" });
      expect(weights.byteLength).toBe(568);
      expect(new Float32Array(weights.buffer, 448, 30)[29]).toBe(-29);
    });

    test("save() writes the weights file next to the model and the reader finds it", () => {
      const path = weighted().save(join(dir, "sub", "model.onnx"), { externalData: { location: "model.onnx_data" } });
      expect(existsSync(join(dir, "sub", "model.onnx_data"))).toBe(true);
      const m = readModel(readFileSync(path));
      expect(() => initializerData(m, "big")).toThrow(/keeps its data in "model.onnx_data"; pass the folder/);
      expect(Array.from(initializerData(m, "big", join(dir, "sub")) as Float32Array).slice(0, 4)).toEqual([0, 1, 2, 3]);
      expect(Array.from(initializerData(m, "small", join(dir, "sub")) as Float32Array)).toEqual([1, 2, 3, 4]);
    });

    test("save() refuses a location with folders in it", () => {
      expect(() => weighted().save(join(dir, "m.onnx"), { externalData: { location: "../w.bin" } })).toThrow(/plain file name/);
    });
  });

  test("encodeModel adds extra opsets next to the default domain", () => {
    const m = readModel(encodeModel({ name: "empty" }, { opset: 14, extraOpsets: { "com.microsoft": 1 } }));
    expect(m.opsetImport?.map((o) => [o.domain, Number(o.version)])).toEqual([
      ["", 14],
      ["com.microsoft", 1],
    ]);
  });
});
