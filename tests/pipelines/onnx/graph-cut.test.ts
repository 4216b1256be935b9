import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { ModelError } from "../../../pipelines/errors.ts";
import { findAttentionBlocks } from "../../../pipelines/onnx/attention-sites.ts";
import { cachedSegments, planCuts, segmentModels } from "../../../pipelines/onnx/graph-cut.ts";
import { GraphBuilder } from "../../../pipelines/onnx/model-builder.ts";
import { readModel } from "../../../pipelines/onnx/model-reader.ts";
import { SegmentedModel } from "../../../pipelines/onnx/segmented-model.ts";
import { externalDataEntries } from "../../../pipelines/onnx/tensor-proto.ts";
import { ensureTinyModel } from "../../../pipelines/sd/tiny/index.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { OrtModel } from "../../../pipelines/runtime/ort-model.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { Rng } from "../../../pipelines/sd/random.ts";
import { writeSdpaUnet } from "./sdpa-unet.ts";

const tmp = mkdtempSync(join(tmpdir(), "latentloom-cut-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cpu = new CpuBackend();

/** Bytes each initializer occupies: its external `length`, or its inline raw data. */
function initializerBytes(t: onnx.ITensorProto): number {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return Number(externalDataEntries(t).length);
  return t.rawData?.length ?? 0;
}

function externalNames(models: onnx.IModelProto[]): string[] {
  return models.flatMap((m) => (m.graph?.initializer ?? []).filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL).map((t) => t.name!));
}

describe("graph cutting", () => {
  describe("on the tiny UNet cut at every self-attention probs and out", () => {
    let path: string;
    let bytes: Uint8Array;
    let model: onnx.ModelProto;
    let cuts: string[];
    beforeAll(async () => {
      path = join(await ensureTinyModel(), "unet", "model.onnx");
      bytes = new Uint8Array(readFileSync(path));
      model = readModel(bytes);
      cuts = findAttentionBlocks(model).filter((b) => b.self).flatMap((b) => [b.tensors.probs!, b.tensors.out!]);
    });

    test("makes one segment per cut plus one for the outputs, cuts in graph order", () => {
      const plan = planCuts(model, [...cuts].reverse());
      expect(plan.cuts).toEqual(cuts);
      expect(plan.segments.map((s) => s.cut)).toEqual([...cuts, null]);
      expect(plan.segments.at(-1)!.outputs).toEqual(["out_sample"]);
    });

    test("assigns every node to exactly one segment (Constants aside)", () => {
      const { models } = segmentModels(model, cuts);
      const names = models.flatMap((m) => m.graph!.node!.filter((n) => n.opType !== "Constant").map((n) => n.name));
      expect(names.length).toBe(new Set(names).size);
      expect(new Set(names)).toEqual(new Set(model.graph!.node!.filter((n) => n.opType !== "Constant").map((n) => n.name)));
    });

    test("passes on what later segments read: skip connections, the time embedding, the encoder states", () => {
      const plan = planCuts(model, cuts);
      const last = plan.segments.length - 1;
      // down_blocks.0's output is made early and read by up_blocks.2 (a skip connection).
      const skip = "/down_blocks.0/attentions.0/Add_output_0";
      const makers = plan.segments.flatMap((s, k) => (s.outputs.includes(skip) ? [k] : []));
      expect(makers).toEqual([2]);
      const up2Probs = plan.cuts.indexOf("/up_blocks.2/attentions.0/transformer_blocks.0/attn1/Softmax_output_0");
      expect(plan.lastUse[skip]).toBe(up2Probs);
      // the time embedding, made first, feeds every resnet, the last one before up_blocks.2/attentions.1
      const temb = "/time_embedding/linear_2/Add_output_0";
      expect(plan.segments[0]!.outputs).toContain(temb);
      expect(plan.lastUse[temb]).toBe(plan.cuts.indexOf("/up_blocks.2/attentions.1/transformer_blocks.0/attn1/Softmax_output_0"));
      const firstReader = plan.segments.findIndex((s) => s.inputs.includes("encoder_hidden_states"));
      const lastReader = plan.segments.findLastIndex((s) => s.inputs.includes("encoder_hidden_states"));
      // attn2 of down_blocks.0 runs after that block's attn1 out cut (segment 1)
      expect([firstReader, lastReader]).toEqual([2, last]);
      // every segment input is a graph input or an output of an earlier segment
      const feeds = new Set(["sample", "timestep", "encoder_hidden_states"]);
      plan.segments.forEach((s, k) => {
        for (const i of s.inputs) expect(feeds.has(i) || plan.segments.slice(0, k).some((p) => p.outputs.includes(i))).toBe(true);
      });
    });

    test("does not duplicate weights: each external initializer lands in one segment and the bytes add up", () => {
      const { models } = segmentModels(model, cuts);
      const external = externalNames(models);
      expect(external.length).toBe(new Set(external).size);
      expect(new Set(external)).toEqual(new Set(externalNames([model])));
      const sum = (ms: onnx.IModelProto[]) =>
        ms.flatMap((m) => m.graph!.initializer!.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)).reduce((a, t) => a + initializerBytes(t), 0);
      expect(sum(models)).toBe(sum([model]));
      for (const t of models.flatMap((m) => m.graph!.initializer!)) {
        if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) expect(externalDataEntries(t).location).toBe("model.onnx_data");
      }
    });

    test("caches the segment files by hash and reuses them without rewriting", () => {
      const first = cachedSegments(path, bytes, model, cuts);
      const mtimes = first.files.map((f) => statSync(f).mtimeMs);
      const again = cachedSegments(path, bytes, model, [...cuts].reverse());
      expect(again.files).toEqual(first.files);
      expect(again.files.map((f) => statSync(f).mtimeMs)).toEqual(mtimes);
      expect(first.externalDataDir).toBe(join(path, ".."));
      // graph-only files: far smaller than the weights they reference
      const segmentBytes = first.files.reduce((a, f) => a + statSync(f).size, 0);
      expect(segmentBytes).toBeLessThan(statSync(join(path, "..", "model.onnx_data")).size);
    });

    test("runs to the uncut output when nothing is replaced", () => {
      using whole = OrtModel.load(path, cpu);
      using seg = SegmentedModel.load(cachedSegments(path, bytes, model, cuts), cpu);
      const rng = new Rng(3);
      using sample = Tensor.from(cpu, "f32", [2, 4, 16, 16], rng.normal(new Float32Array(2 * 4 * 256)));
      using timestep = Tensor.from(cpu, "f32", [], Float32Array.of(321));
      using context = Tensor.from(cpu, "f32", [2, 77, 64], rng.normal(new Float32Array(2 * 77 * 64)));
      const feeds = { sample, timestep, encoder_hidden_states: context };
      using expected = Tensor.empty(cpu, "f32", [2, 4, 16, 16]);
      whole.run(feeds, { out_sample: expected });
      const seen: number[] = [];
      for (let round = 0; round < 2; round++) {
        using out = Tensor.empty(cpu, "f32", [2, 4, 16, 16]);
        seg.run(feeds, { out_sample: out }, (cut) => void seen.push(cut));
        const a = out.readF32();
        const b = expected.readF32();
        expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThanOrEqual(1e-5);
      }
      expect(seen).toEqual([...cuts.keys(), ...cuts.keys()]);
    });
  });

  describe("on the export-shaped graph with weights in model.onnx_data", () => {
    test("cut at every site of every block, runs to the uncut output", () => {
      const { path } = writeSdpaUnet(join(tmp, "sdpa"));
      const bytes = new Uint8Array(readFileSync(path));
      const model = readModel(bytes);
      const cuts = findAttentionBlocks(model).flatMap((b) => Object.values(b.tensors));
      using whole = OrtModel.load(path, cpu);
      using seg = SegmentedModel.load(cachedSegments(path, bytes, model, cuts), cpu);
      expect(seg.segmentCount).toBe(5 * 5 + 1);
      const rng = new Rng(4);
      using sample = Tensor.from(cpu, "f32", [2, 4, 8, 10], rng.normal(new Float32Array(2 * 4 * 80)));
      using timestep = Tensor.from(cpu, "f32", [1], Float32Array.of(700));
      using context = Tensor.from(cpu, "f32", [2, 5, 6], rng.normal(new Float32Array(60)));
      const feeds = { sample, timestep, encoder_hidden_states: context };
      using expected = Tensor.empty(cpu, "f32", [2, 4, 8, 10]);
      using out = Tensor.empty(cpu, "f32", [2, 4, 8, 10]);
      whole.run(feeds, { out_sample: expected });
      seg.run(feeds, { out_sample: out }, () => undefined);
      const a = out.readF32();
      const b = expected.readF32();
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThanOrEqual(1e-5);
    });
  });

  describe("refuses what it cannot cut", () => {
    const g = new GraphBuilder("small");
    const x = g.input("x", "f32", [2]);
    const y = g.node("Relu", [x]);
    g.output(g.node("Neg", [y]), "f32", [2], "z");
    const model = readModel(g.toModel());

    test("a graph input is not a cut point", () => {
      expect(() => planCuts(model, ["x"])).toThrow(ModelError);
      expect(() => planCuts(model, ["x"])).toThrow(/cannot cut at "x": no node produces it/);
    });

    test("an intermediate cut of a two-node graph gives two segments passing that tensor", () => {
      const plan = planCuts(model, [y.name]);
      expect(plan.segments.map((s) => ({ cut: s.cut, inputs: s.inputs, outputs: s.outputs }))).toEqual([
        { cut: y.name, inputs: ["x"], outputs: [y.name] },
        { cut: null, inputs: [y.name], outputs: ["z"] },
      ]);
    });
  });
});
