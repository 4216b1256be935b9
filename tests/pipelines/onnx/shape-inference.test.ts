import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { findAttentionBlocks } from "../../../pipelines/onnx/attention-sites.ts";
import { cachedSegments } from "../../../pipelines/onnx/graph-cut.ts";
import { GraphBuilder } from "../../../pipelines/onnx/model-builder.ts";
import { readModel } from "../../../pipelines/onnx/model-reader.ts";
import { inferShapes, shapedValueInfo } from "../../../pipelines/onnx/shape-inference.ts";
import { ensureTinyModel } from "../../../pipelines/sd/tiny/index.ts";

/** x [batch, 3, 8, 8] → Conv (4 filters, pad 1) → Relu → Reshape to [batch, 4, 64] (a constant shape) → Softmax. */
function convModel(): onnx.ModelProto {
  const g = new GraphBuilder("shapes");
  const x = g.input("x", "f32", ["batch", 3, 8, 8]);
  const w = g.initializer("w", new Float32Array(4 * 3 * 3 * 3).fill(0.1), [4, 3, 3, 3]);
  const conv = g.node("Conv", [x, w], { attrs: { pads: [1, 1, 1, 1] }, outputName: "conv" });
  const relu = g.node("Relu", [conv], { outputName: "relu" });
  const shape = g.initializer("shape", BigInt64Array.of(0n, 4n, 64n), [3]);
  const flat = g.node("Reshape", [relu, shape], { outputName: "flat" });
  g.output(g.node("Softmax", [flat], { attrs: { axis: -1 } }), "f32", ["batch", 4, 64], "y");
  return readModel(g.toModel({ opset: 17 }));
}

describe("inferShapes", () => {
  test("gives ORT's inferred rank, static dimensions and symbolic names of inner tensors", () => {
    const shapes = inferShapes(convModel(), ["conv", "relu", "flat"]);
    expect(shapes.get("conv")).toEqual({ elemType: 1, dims: [-1, 4, 8, 8], dimNames: ["batch", "", "", ""] });
    expect(shapes.get("relu")).toEqual(shapes.get("conv"));
    expect(shapes.get("flat")).toEqual({ elemType: 1, dims: [-1, 4, 64], dimNames: ["batch", "", ""] });
  });

  test("does not need the weights: external ones may be missing", () => {
    const model = convModel();
    const w = model.graph!.initializer!.find((t) => t.name === "w")!;
    w.floatData = [];
    w.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    w.externalData = [
      { key: "location", value: "nowhere.bin" },
      { key: "offset", value: "0" },
      { key: "length", value: "432" },
    ];
    expect(inferShapes(model, ["conv"], "/nonexistent").get("conv")?.dims).toEqual([-1, 4, 8, 8]);
  });

  test("gives nothing, instead of failing, for a graph ORT cannot load", () => {
    const model = convModel();
    model.graph!.node![0]!.opType = "NoSuchOp";
    expect(inferShapes(model, ["conv"]).size).toBe(0);
  });

  test("shapedValueInfo writes static dims as values, named ones as params, unknown ones empty", () => {
    expect(shapedValueInfo("t", { elemType: 1, dims: [-1, 4, -1], dimNames: ["batch", "", ""] })).toEqual({
      name: "t",
      type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: "batch" }, { dimValue: 4 }, {}] } } },
    });
  });
});

describe("segment files of the tiny UNet", () => {
  test("declare the shapes ORT infers in the whole model on every tensor they pass on", async () => {
    const path = join(await ensureTinyModel(), "unet", "model.onnx");
    const bytes = new Uint8Array(readFileSync(path));
    const model = readModel(bytes);
    const cuts = findAttentionBlocks(model).filter((b) => b.self).flatMap((b) => [b.tensors.probs!, b.tensors.out!]);
    const files = cachedSegments(path, bytes, model, cuts);
    const segment = readModel(new Uint8Array(readFileSync(files.files[1]!)));
    const shapeOf = (name: string) =>
      segment.graph!.input!.find((i) => i.name === name)?.type?.tensorType?.shape?.dim?.map((d) => (d.dimValue ? Number(d.dimValue) : (d.dimParam ?? "?")));
    // The first self-attention's probs ([B·heads, queries, keys]) and the block's hidden states ([B, tokens, 32]).
    expect(shapeOf(cuts[0]!)).toEqual(["?", "?", "?"]);
    const hidden = segment.graph!.input!.map((i) => i.name!).find((n) => n.endsWith("norm1/LayerNormalization_output_0"));
    expect(hidden && shapeOf(hidden)).toEqual(["?", "?", 32]);
  });
});
