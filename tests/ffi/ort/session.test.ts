import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Dtype, OrtError, type OrtErrorCodeName, Session, Value } from "../../../ffi/ort/index.ts";
import { attr, GraphBuilder, type OnnxDtype } from "../../../pipelines/onnx/model-builder.ts";

/** Deterministic pseudo-random values in [-1, 1). */
function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

function unaryModel(op: string, inType: OnnxDtype, outType: OnnxDtype, shape: number[], attrs = {}): Uint8Array {
  const g = new GraphBuilder(op);
  const x = g.input("x", inType, shape);
  g.output(g.node(op, [x], { attrs }), outType, shape, "y");
  return g.toModel({ opset: 17 });
}

function runOne<D extends Dtype>(model: Uint8Array, feeds: Record<string, Value>): Value<D> {
  using session = Session.create(model, { intraOpThreads: 1 });
  const { y } = session.run(feeds);
  return y as Value<D>;
}

describe("Session", () => {
  describe("given an Add model", () => {
    for (const [dtype, make] of [
      ["f32", (v: number[]) => Float32Array.from(v)],
      ["i32", (v: number[]) => Int32Array.from(v)],
      ["i64", (v: number[]) => BigInt64Array.from(v.map(BigInt))],
    ] as const) {
      test(`adds two ${dtype} tensors elementwise`, () => {
        const g = new GraphBuilder("add");
        const a = g.input("a", dtype, [2, 3]);
        const b = g.input("b", dtype, [2, 3]);
        g.output(g.node("Add", [a, b]), dtype, [2, 3], "y");
        const av = [1, -2, 3, 40, 5, -600];
        const bv = [10, 20, -30, 4, 0, 7];
        using session = Session.create(g.toModel());
        using va = Value.fromTypedArray(dtype, [2, 3], make(av) as never);
        using vb = Value.fromTypedArray(dtype, [2, 3], make(bv) as never);
        using y = session.run({ a: va, b: vb }).y as Value;
        expect(y.dtype).toBe(dtype);
        expect(y.shape).toEqual([2, 3]);
        expect(Array.from(y.data as ArrayLike<number | bigint>, Number)).toEqual(av.map((v, i) => v + (bv[i] as number)));
      });
    }
  });

  describe("given a MatMul model with a weight initializer", () => {
    test("matches a plain TypeScript matrix product", () => {
      const [m, k, n] = [3, 5, 4];
      const wData = seeded(k * n, 7);
      const xData = seeded(m * k, 11);
      const g = new GraphBuilder("matmul");
      const x = g.input("x", "f32", [m, k]);
      const w = g.initializer("w", wData, [k, n]);
      g.output(g.node("MatMul", [x, w], { name: "/down_blocks.0/attn1/to_q/MatMul" }), "f32", [m, n], "y");
      using xv = Value.fromTypedArray("f32", [m, k], xData);
      using y = runOne<"f32">(g.toModel(), { x: xv });
      const expected = new Float32Array(m * n);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let p = 0; p < k; p++) sum += (xData[i * k + p] as number) * (wData[p * n + j] as number);
          expected[i * n + j] = sum;
        }
      expect(y.shape).toEqual([m, n]);
      y.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
    });
  });

  describe("given a 2D Conv with padding 1 and a bias", () => {
    test("matches a plain TypeScript convolution", () => {
      const [N, C, H, W, M, K] = [1, 2, 5, 4, 3, 3];
      const xData = seeded(N * C * H * W, 3);
      const wData = seeded(M * C * K * K, 5);
      const bData = seeded(M, 9);
      const g = new GraphBuilder("conv");
      const x = g.input("x", "f32", [N, C, H, W]);
      const w = g.initializer("w", wData, [M, C, K, K]);
      const b = g.initializer("b", bData, [M]);
      const y = g.node("Conv", [x, w, b], { attrs: { kernel_shape: [K, K], pads: [1, 1, 1, 1], strides: [1, 1] } });
      g.output(y, "f32", [N, M, H, W], "y");
      using xv = Value.fromTypedArray("f32", [N, C, H, W], xData);
      using out = runOne<"f32">(g.toModel(), { x: xv });
      const expected = new Float32Array(N * M * H * W);
      for (let m = 0; m < M; m++)
        for (let i = 0; i < H; i++)
          for (let j = 0; j < W; j++) {
            let sum = bData[m] as number;
            for (let c = 0; c < C; c++)
              for (let ki = 0; ki < K; ki++)
                for (let kj = 0; kj < K; kj++) {
                  const yi = i + ki - 1;
                  const xj = j + kj - 1;
                  if (yi < 0 || yi >= H || xj < 0 || xj >= W) continue;
                  sum += (xData[(c * H + yi) * W + xj] as number) * (wData[((m * C + c) * K + ki) * K + kj] as number);
                }
            expected[(m * H + i) * W + j] = sum;
          }
      expect(out.shape).toEqual([N, M, H, W]);
      out.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
    });
  });

  describe("given a Softmax over the last axis", () => {
    test("matches exp(x - max) / sum per row", () => {
      const xData = seeded(4 * 6, 21).map((v) => v * 5);
      using xv = Value.fromTypedArray("f32", [4, 6], xData);
      using y = runOne<"f32">(unaryModel("Softmax", "f32", "f32", [4, 6], { axis: -1 }), { x: xv });
      for (let r = 0; r < 4; r++) {
        const row = Array.from(xData.subarray(r * 6, r * 6 + 6));
        const max = Math.max(...row);
        const exps = row.map((v) => Math.exp(v - max));
        const sum = exps.reduce((a, b) => a + b, 0);
        exps.forEach((e, c) => expect(y.data[r * 6 + c] as number).toBeCloseTo(e / sum, 6));
      }
    });
  });

  describe("given Cast models", () => {
    const values = [0, 0.5, -2, 1024, 0.333, -65504, 3.14159, 1e-3];
    test("f32 → f16 gives the IEEE half bits of each value", () => {
      using xv = Value.fromTypedArray("f32", [8], Float32Array.from(values));
      using y = runOne<"f16">(unaryModel("Cast", "f32", "f16", [8], { to: 10 }), { x: xv });
      const reference = new Uint16Array(Float16Array.from(values).buffer);
      expect(y.dtype).toBe("f16");
      expect(Array.from(y.data)).toEqual(Array.from(reference));
    });

    test("f16 → f32 reads half bits back", () => {
      const bits = new Uint16Array(Float16Array.from(values).buffer);
      using xv = Value.fromTypedArray("f16", [8], bits);
      using y = runOne<"f32">(unaryModel("Cast", "f16", "f32", [8], { to: 1 }), { x: xv });
      expect(Array.from(y.data)).toEqual(values.map((v) => Math.f16round(v)));
    });

    test("f32 → i32 truncates toward zero", () => {
      const xs = [2.7, -2.7, 0.2, -0.9, 100000.5, -7];
      using xv = Value.fromTypedArray("f32", [6], Float32Array.from(xs));
      using y = runOne<"i32">(unaryModel("Cast", "f32", "i32", [6], { to: 6 }), { x: xv });
      expect(Array.from(y.data)).toEqual(xs.map((v) => Math.trunc(v) | 0));
    });

    test("i64 → f32 keeps integers exactly", () => {
      const xs = [0n, -1n, 123456n, 1n << 24n, -(1n << 20n)];
      using xv = Value.fromTypedArray("i64", [5], BigInt64Array.from(xs));
      using y = runOne<"f32">(unaryModel("Cast", "i64", "f32", [5], { to: 1 }), { x: xv });
      expect(Array.from(y.data)).toEqual(xs.map(Number));
    });

    test("u8 → bool is 1 exactly where the byte is non-zero", () => {
      const xs = [0, 1, 2, 255, 0, 128];
      using xv = Value.fromTypedArray("u8", [6], Uint8Array.from(xs));
      using y = runOne<"bool">(unaryModel("Cast", "u8", "bool", [6], { to: 9 }), { x: xv });
      expect(y.dtype).toBe("bool");
      expect(Array.from(y.data)).toEqual(xs.map((v) => (v ? 1 : 0)));
    });

    test("bool → f32 gives 0 and 1", () => {
      using xv = Value.fromTypedArray("bool", [4], Uint8Array.from([1, 0, 0, 1]));
      using y = runOne<"f32">(unaryModel("Cast", "bool", "f32", [4], { to: 1 }), { x: xv });
      expect(Array.from(y.data)).toEqual([1, 0, 0, 1]);
    });
  });

  describe("metadata", () => {
    const g = new GraphBuilder("meta");
    const x = g.input("latent", "f32", ["batch", 4, null, 8]);
    const t = g.input("timestep", "i64", [1]);
    const s = g.node("Cast", [t], { attrs: { to: attr.int(1) } });
    g.output(g.node("Mul", [x, s]), "f32", ["batch", 4, null, 8], "out_sample");
    const model = g.toModel();

    test("lists inputs with dtype, -1 for dynamic dims and their symbolic names", () => {
      using session = Session.create(model);
      expect(session.inputs).toEqual([
        { name: "latent", dtype: "f32", dims: [-1, 4, -1, 8], dimNames: ["batch", "", "", ""] },
        { name: "timestep", dtype: "i64", dims: [1], dimNames: [""] },
      ]);
      expect(session.outputs).toEqual([{ name: "out_sample", dtype: "f32", dims: [-1, 4, -1, 8], dimNames: ["batch", "", "", ""] }]);
    });

    test("runs with any size for the dynamic dims", () => {
      using session = Session.create(model);
      using latent = Value.fromTypedArray("f32", [2, 4, 3, 8], seeded(2 * 4 * 3 * 8, 1));
      using timestep = Value.fromTypedArray("i64", [1], BigInt64Array.of(3n));
      using y = session.run({ latent, timestep }).out_sample as Value<"f32">;
      expect(y.shape).toEqual([2, 4, 3, 8]);
      y.data.forEach((v, i) => expect(v).toBeCloseTo(3 * (latent.data[i] as number), 6));
    });
  });

  describe("outputs", () => {
    const g = new GraphBuilder("two-outputs");
    const x = g.input("x", "f32", [3]);
    g.output(g.node("Neg", [x]), "f32", [3], "neg");
    g.output(g.node("Abs", [x]), "f32", [3], "abs");
    const model = g.toModel();

    test("returns only the requested outputs, in the order asked", () => {
      using session = Session.create(model);
      using xv = Value.fromTypedArray("f32", [3], Float32Array.of(1, -2, 3));
      const result = session.run({ x: xv }, ["abs"]);
      expect(Object.keys(result)).toEqual(["abs"]);
      expect(Array.from(result.abs?.data as Float32Array)).toEqual([1, 2, 3]);
      for (const v of Object.values(result)) v.dispose();
    });

    test("fixed-shape outputs come back as ordinary typed arrays ORT filled in place", () => {
      using session = Session.create(model);
      using xv = Value.fromTypedArray("f32", [3], Float32Array.of(1, -2, 3));
      using neg = session.run({ x: xv }, ["neg"]).neg as Value<"f32">;
      expect(neg.data.buffer.byteLength).toBe(12);
      expect(Array.from(neg.data)).toEqual([-1, 2, -3]);
    });

    test("a declared output shape the graph does not produce still runs, with the real shape", () => {
      const g = new GraphBuilder("lying-shape");
      const x = g.input("x", "f32", [4]);
      g.output(g.node("Neg", [x]), "f32", [5], "y");
      using session = Session.create(g.toModel());
      using xv = Value.fromTypedArray("f32", [4], Float32Array.of(1, 2, 3, 4));
      for (let i = 0; i < 2; i++) {
        using y = session.run({ x: xv }).y as Value<"f32">;
        expect([y.shape, Array.from(y.data)]).toEqual([[4], [-1, -2, -3, -4]]);
      }
    });

    test("runInto writes into preallocated Values", () => {
      using session = Session.create(model);
      using xv = Value.fromTypedArray("f32", [3], Float32Array.of(1, -2, 3));
      const negData = new Float32Array(3);
      using neg = Value.fromTypedArray("f32", [3], negData);
      session.runInto({ x: xv }, { neg });
      expect(Array.from(negData)).toEqual([-1, 2, -3]);
      xv.data[0] = 5;
      session.runInto({ x: xv }, { neg });
      expect(negData[0]).toBe(-5);
    });

    test("runInto names an unknown output and the valid ones", () => {
      using session = Session.create(model);
      using xv = Value.fromTypedArray("f32", [3], Float32Array.of(1, -2, 3));
      using other = Value.fromTypedArray("f32", [3], new Float32Array(3));
      expect(() => session.runInto({ x: xv }, { nope: other })).toThrow(/"nope" is not an output; outputs are neg, abs/);
    });
  });

  describe("given a model whose weights are external data in a temp folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "latentloom-ort-"));
    const wData = seeded(16 * 8, 4);
    const g = new GraphBuilder("external");
    const x = g.input("x", "f32", [2, 16]);
    const w = g.initializer("w", wData, [16, 8]);
    const bias = g.initializer("bias", Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), [8]);
    g.output(g.node("Add", [g.node("MatMul", [x, w]), bias]), "f32", [2, 8], "y");
    const path = g.save(join(dir, "model.onnx"), { externalData: { location: "weights.bin" } });
    const xData = seeded(2 * 16, 8);
    const expected = Array.from({ length: 16 }, (_, idx) => {
      const [i, j] = [Math.floor(idx / 8), idx % 8];
      let s = j + 1;
      for (let p = 0; p < 16; p++) s += (xData[i * 16 + p] as number) * (wData[p * 8 + j] as number);
      return s;
    });

    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test("loads it from the file path, finding weights.bin next to it", () => {
      using session = Session.create(path);
      using xv = Value.fromTypedArray("f32", [2, 16], xData);
      using y = session.run({ x: xv }).y as Value<"f32">;
      y.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
    });

    test("loads it from bytes when told the external data folder", async () => {
      const bytes = new Uint8Array(readFileSync(path));
      using session = Session.create(bytes, { externalDataDir: dir });
      using xv = Value.fromTypedArray("f32", [2, 16], xData);
      using y = session.run({ x: xv }).y as Value<"f32">;
      y.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
    });

    test("fails from bytes without the folder, naming the weights file", () => {
      const bytes = new Uint8Array(readFileSync(path));
      expect(() => Session.create(bytes, { externalDataDir: join(dir, "elsewhere") })).toThrow(/weights\.bin/);
    });
  });

  describe("errors", () => {
    const g = new GraphBuilder("err");
    const x = g.input("x", "f32", [2, 3]);
    g.output(g.node("Relu", [x]), "f32", [2, 3], "y");
    const model = g.toModel();

    function expectOrtError(fn: () => unknown, codeName: OrtErrorCodeName, message: RegExp): void {
      let caught: unknown;
      try {
        fn();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(OrtError);
      expect((caught as OrtError).codeName).toBe(codeName);
      expect((caught as OrtError).message).toMatch(message);
    }

    test("a wrong input name is ORT_INVALID_ARGUMENT naming it", () => {
      using session = Session.create(model);
      using xv = Value.fromTypedArray("f32", [2, 3], new Float32Array(6));
      expectOrtError(() => session.run({ X: xv }), "ORT_INVALID_ARGUMENT", /input name.*X|X.*input/i);
    });

    test("a wrong output name is ORT_INVALID_ARGUMENT naming it", () => {
      using session = Session.create(model);
      using xv = Value.fromTypedArray("f32", [2, 3], new Float32Array(6));
      expectOrtError(() => session.run({ x: xv }, ["why"]), "ORT_INVALID_ARGUMENT", /why/);
    });

    test("a wrong shape is ORT_INVALID_ARGUMENT naming the dimension", () => {
      using session = Session.create(model);
      using xv = Value.fromTypedArray("f32", [3, 2], new Float32Array(6));
      expectOrtError(() => session.run({ x: xv }), "ORT_INVALID_ARGUMENT", /Got invalid dimensions for input: x/);
    });

    test("a wrong dtype is ORT_INVALID_ARGUMENT naming both types", () => {
      using session = Session.create(model);
      using xv = Value.fromTypedArray("i32", [2, 3], new Int32Array(6));
      expectOrtError(() => session.run({ x: xv }), "ORT_INVALID_ARGUMENT", /Unexpected input data type.*int32.*float/i);
    });

    test("corrupt model bytes are ORT_INVALID_PROTOBUF", () => {
      const corrupt = model.slice();
      corrupt.fill(0xff, 10, 40);
      expectOrtError(() => Session.create(corrupt), "ORT_INVALID_PROTOBUF", /protobuf parsing failed/);
    });

    test("a missing model file is ORT_NO_SUCHFILE naming the path", () => {
      expectOrtError(() => Session.create("/nonexistent/model.onnx"), "ORT_NO_SUCHFILE", /\/nonexistent\/model\.onnx/);
    });

    test("a feed that is not a Value is refused before reaching ORT", () => {
      using session = Session.create(model);
      expectOrtError(() => session.run({ x: new Float32Array(6) as never }), "ORT_INVALID_ARGUMENT", /feed "x" must be a Value/);
    });
  });

  describe("disposal", () => {
    test("is idempotent and later use throws an OrtError", () => {
      const g = new GraphBuilder("d");
      const x = g.input("x", "f32", [1]);
      g.output(g.node("Identity", [x]), "f32", [1], "y");
      const session = Session.create(g.toModel());
      const xv = Value.fromTypedArray("f32", [1], Float32Array.of(1));
      session.dispose();
      session.dispose();
      session[Symbol.dispose]();
      expect(session.disposed).toBe(true);
      expect(() => session.run({ x: xv })).toThrow(/Session used after dispose/);
      xv.dispose();
      xv.dispose();
      expect(() => xv.handle).toThrow(OrtError);
    });
  });
});
