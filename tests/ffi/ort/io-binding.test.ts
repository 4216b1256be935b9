import { describe, expect, test } from "bun:test";
import { IoBinding, MemoryInfo, OrtError, Session, Value } from "../../../ffi/ort/index.ts";
import { GraphBuilder } from "../../../pipelines/onnx/model-builder.ts";

function scaleModel(): Uint8Array {
  const g = new GraphBuilder("scale");
  const x = g.input("x", "f32", [3]);
  const s = g.input("s", "f32", [1]);
  g.output(g.node("Mul", [x, s]), "f32", [3], "y");
  return g.toModel();
}

describe("IoBinding", () => {
  test("runs with inputs bound once and an output ORT allocates on the host", () => {
    using session = Session.create(scaleModel());
    using binding = new IoBinding(session);
    using cpu = MemoryInfo.cpu();
    using x = Value.fromTypedArray("f32", [3], Float32Array.of(1, 2, 3));
    using s = Value.fromTypedArray("f32", [1], Float32Array.of(2));
    binding.bindInput("x", x).bindInput("s", s).bindOutputToDevice("y", cpu);
    binding.run();
    const first = binding.outputs();
    expect(Object.keys(first)).toEqual(["y"]);
    expect(Array.from(first.y?.data as Float32Array)).toEqual([2, 4, 6]);
    first.y?.dispose();

    s.data[0] = -1; // the binding wraps the same memory
    binding.run();
    using y = binding.outputs().y as Value<"f32">;
    expect(Array.from(y.data)).toEqual([-1, -2, -3]);
  });

  test("writes into a preallocated output Value", () => {
    using session = Session.create(scaleModel());
    using binding = new IoBinding(session);
    const out = new Float32Array(3);
    using y = Value.fromTypedArray("f32", [3], out);
    using x = Value.fromTypedArray("f32", [3], Float32Array.of(1, 2, 3));
    using s = Value.fromTypedArray("f32", [1], Float32Array.of(10));
    binding.bindInput("x", x).bindInput("s", s).bindOutput("y", y);
    binding.run();
    expect(Array.from(out)).toEqual([10, 20, 30]);
  });

  test("after clear(), a run lacks its inputs and ORT says so", () => {
    using session = Session.create(scaleModel());
    using binding = new IoBinding(session);
    using x = Value.fromTypedArray("f32", [3], Float32Array.of(1, 2, 3));
    using s = Value.fromTypedArray("f32", [1], Float32Array.of(2));
    binding.bindInput("x", x).bindInput("s", s);
    binding.clear();
    expect(() => binding.run()).toThrow(OrtError);
  });

  test("refuses an input name the model does not have", () => {
    using session = Session.create(scaleModel());
    using binding = new IoBinding(session);
    using x = Value.fromTypedArray("f32", [3], Float32Array.of(1, 2, 3));
    expect(() => binding.bindInput("nope", x)).toThrow(/Failed to find input name in the mapping: nope/);
  });

  test("disposes idempotently", () => {
    using session = Session.create(scaleModel());
    const binding = new IoBinding(session);
    binding.dispose();
    binding.dispose();
    expect(() => binding.run()).toThrow(/after dispose/);
  });
});
