/**
 * OrtModel keeps its IoBinding and OrtValues from one run to the next. These tests would catch a
 * stale binding: a run that reads the previous call's input buffer, writes into the previous
 * call's output, reads a buffer at its old shape or offset, or writes an output that is no longer
 * asked for. Each compares against values computed here in plain TypeScript.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, Value } from "../../../ffi/ort/index.ts";
import { ModelError } from "../../../pipelines/errors.ts";
import { GraphBuilder } from "../../../pipelines/onnx/model-builder.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { OrtModel } from "../../../pipelines/runtime/ort-model.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";

const dir = mkdtempSync(join(tmpdir(), "latentloom-ort-model-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cpu = new CpuBackend();

function save(name: string, bytes: Uint8Array): string {
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, bytes);
  return path;
}

/** sum = ReduceSum(x, axis 1) (so the shape matters), twice = x + x, scaled = x * s. */
const modelPath = (() => {
  const g = new GraphBuilder("bindings");
  const x = g.input("x", "f32", ["a", "b"]);
  const s = g.input("s", "f32", [1]);
  const axes = g.initializer("axes", BigInt64Array.of(1n), [1]);
  g.output(g.node("ReduceSum", [x, axes], { attrs: { keepdims: 0 } }), "f32", ["a"], "sum");
  g.output(g.node("Add", [x, x]), "f32", ["a", "b"], "twice");
  g.output(g.node("Mul", [x, s]), "f32", ["a", "b"], "scaled");
  return save("bindings", g.toModel({ opset: 17 }));
})();

const f32 = (shape: number[], values: number[]) => Tensor.from(cpu, "f32", shape, Float32Array.from(values));
const read = (t: Tensor) => Array.from(t.readF32());
const view = (t: Tensor) => t.hostView() as Float32Array;

describe("OrtModel.run with bindings kept between runs", () => {
  const model = OrtModel.load(modelPath, cpu);
  afterAll(() => model.dispose());

  test("gives the same bytes as a fresh Session, run after run, as the input changes in place", () => {
    using fresh = Session.create(modelPath);
    using x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    using s = f32([1], [0.5]);
    using twice = Tensor.empty(cpu, "f32", [2, 3]);
    for (let run = 0; run < 5; run++) {
      const values = Array.from({ length: 6 }, (_, i) => Math.fround(Math.sin(run * 7 + i) * 10));
      view(x).set(values);
      model.run({ x, s }, { twice });
      using xv = Value.fromTypedArray("f32", [2, 3], Float32Array.from(values));
      using sv = Value.fromTypedArray("f32", [1], Float32Array.of(0.5));
      const out = fresh.run({ x: xv, s: sv }, ["twice"]);
      expect(new Uint8Array(twice.read().buffer)).toEqual(new Uint8Array((out.twice!.data as Float32Array).buffer));
      out.twice!.dispose();
    }
  });

  test("reads a new input tensor, not the buffer bound last time", () => {
    using s = f32([1], [1]);
    using twice = Tensor.empty(cpu, "f32", [1, 2]);
    using a = f32([1, 2], [1, 2]);
    using b = f32([1, 2], [10, 20]);
    model.run({ x: a, s }, { twice });
    expect(read(twice)).toEqual([2, 4]);
    model.run({ x: b, s }, { twice });
    expect(read(twice)).toEqual([20, 40]);
  });

  test("writes a new output tensor and leaves the one bound last time alone", () => {
    using s = f32([1], [1]);
    using x = f32([1, 2], [1, 2]);
    using first = Tensor.empty(cpu, "f32", [1, 2]);
    using second = Tensor.empty(cpu, "f32", [1, 2]);
    model.run({ x, s }, { twice: first });
    view(x).set([5, 6]);
    model.run({ x, s }, { twice: second });
    expect([read(first), read(second)]).toEqual([[2, 4], [10, 12]]);
  });

  test("reads the same buffer at its new shape (a reshaped view)", () => {
    using s = f32([1], [1]);
    using x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    using rows2 = Tensor.empty(cpu, "f32", [2]);
    using rows3 = Tensor.empty(cpu, "f32", [3]);
    model.run({ x, s }, { sum: rows2 });
    using view = x.reshape([3, 2]);
    model.run({ x: view, s }, { sum: rows3 });
    expect([read(rows2), read(rows3)]).toEqual([[6, 15], [3, 7, 11]]);
  });

  test("reads a slice of the same buffer at its own offset", () => {
    using s = f32([1], [1]);
    using whole = f32([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    using sum = Tensor.empty(cpu, "f32", [2]);
    using top = whole.slice(0, 2);
    using bottom = whole.slice(2, 4);
    model.run({ x: top, s }, { sum });
    expect(read(sum)).toEqual([3, 7]);
    model.run({ x: bottom, s }, { sum });
    expect(read(sum)).toEqual([11, 15]);
  });

  test("stops writing an output that is no longer asked for", () => {
    using s = f32([1], [3]);
    using x = f32([1, 2], [1, 2]);
    using twice = Tensor.empty(cpu, "f32", [1, 2]);
    using scaled = Tensor.empty(cpu, "f32", [1, 2]);
    model.run({ x, s }, { twice, scaled });
    expect([read(twice), read(scaled)]).toEqual([[2, 4], [3, 6]]);
    view(x).set([100, 200]);
    model.run({ x, s }, { scaled });
    // A binding left over from the first call would have written 200, 400 into `twice`.
    expect([read(twice), read(scaled)]).toEqual([[2, 4], [300, 600]]);
  });

  test("alternating between two buffers (a sampler's ping-pong) reads the right one every time", () => {
    using s = f32([1], [1]);
    using a = f32([1, 2], [1, 1]);
    using b = f32([1, 2], [2, 2]);
    using outA = Tensor.empty(cpu, "f32", [1, 2]);
    using outB = Tensor.empty(cpu, "f32", [1, 2]);
    for (let step = 0; step < 6; step++) {
      const [x, out] = step % 2 ? [b, outB] : [a, outA];
      view(x).fill(step);
      model.run({ x, s }, { twice: out });
      expect(read(out)).toEqual([2 * step, 2 * step]);
    }
  });

  test("refuses a disposed tensor even when its buffer is still bound", () => {
    using s = f32([1], [1]);
    using twice = Tensor.empty(cpu, "f32", [1, 2]);
    const x = f32([1, 2], [1, 2]);
    model.run({ x, s }, { twice });
    x.dispose();
    expect(() => model.run({ x, s }, { twice })).toThrow(/used after dispose/);
  });

  test("a buffer the pool hands to a new tensor is read as that tensor's", () => {
    using s = f32([1], [1]);
    using twice = Tensor.empty(cpu, "f32", [1, 2]);
    const old = f32([1, 2], [1, 2]);
    model.run({ x: old, s }, { twice });
    const buffer = (old.storage as { buffer: ArrayBuffer }).buffer;
    old.dispose();
    using reused = f32([1, 2], [7, 8]);
    expect((reused.storage as { buffer: ArrayBuffer }).buffer).toBe(buffer);
    model.run({ x: reused, s }, { twice });
    expect(read(twice)).toEqual([14, 16]);
  });

  test("after an error the next call binds afresh and runs", () => {
    using s = f32([1], [1]);
    using x = f32([1, 2], [1, 2]);
    using wrong = Tensor.empty(cpu, "f32", [2, 2]);
    using twice = Tensor.empty(cpu, "f32", [1, 2]);
    expect(() => model.run({ x, s }, { twice: wrong })).toThrow(ModelError);
    expect(() => model.run({ x, s, nope: x }, { twice })).toThrow(ModelError);
    model.run({ x, s }, { twice });
    expect(read(twice)).toEqual([2, 4]);
  });

  test("runAllocating between runs leaves run working, and the other way round", () => {
    using s = f32([1], [2]);
    using x = f32([1, 2], [1, 2]);
    using scaled = Tensor.empty(cpu, "f32", [1, 2]);
    model.run({ x, s }, { scaled });
    const made = model.runAllocating({ x, s }, ["twice"]);
    expect(read(made.twice!)).toEqual([2, 4]);
    made.twice!.dispose();
    view(x).set([3, 4]);
    model.run({ x, s }, { scaled });
    expect(read(scaled)).toEqual([6, 8]);
  });
});

describe("OrtModel.run over kept bindings, 3,000 runs under forced collections", () => {
  // Small tensors (a 4-byte scalar among them) are the ones whose memory could move if it were
  // not an ArrayBuffer's own storage; fresh ones now and then rebind, the rest stay bound.
  test("every run reads the current values", () => {
    using model = OrtModel.load(modelPath, cpu);
    using x = f32([1, 3], [0, 0, 0]);
    using scaled = Tensor.empty(cpu, "f32", [1, 3]);
    let s = f32([1], [1]);
    let wrong = 0;
    for (let run = 0; run < 3_000; run++) {
      if (run % 97 === 0) {
        s.dispose();
        s = f32([1], [(run % 5) - 2]);
      }
      if (run % 250 === 0) Bun.gc(true);
      for (let k = 0; k < 4; k++) new Float32Array(3).fill(k);
      view(x).set([run, -run, run % 7]);
      model.run({ x, s }, { scaled });
      const k = s.readF32()[0]!;
      const got = read(scaled);
      if (got[0] !== run * k || got[1] !== -run * k || got[2] !== (run % 7) * k) wrong++;
    }
    s.dispose();
    expect(wrong).toBe(0);
  });
});
