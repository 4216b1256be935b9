/**
 * Real exports disagree on I/O conventions (shared/reference/sd-onnx-layout.md §1–2). This test
 * rewrites the tiny model into the older diffusers-script layout — int32 input_ids, a [1]-shaped
 * timestep, weights in `weights.pb`, a VAE encoder giving `latent_sample`, a PNDM scheduler
 * config — and checks that the pipeline produces exactly the same images from it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { readModel } from "../../../pipelines/onnx/model-reader.ts";
import { ensureTinyModel } from "../../../pipelines/sd/tiny/index.ts";
import { StableDiffusion } from "../../../pipelines/sd/stable-diffusion.ts";

const tiny = await ensureTinyModel("tiny");
const root = mkdtempSync(join(tmpdir(), "latentloom-layout-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const T = onnx.TensorProto.DataType;
const int64s = (name: string, values: number[]) =>
  onnx.TensorProto.create({ name, dataType: T.INT64, dims: [values.length], int64Data: values });

/** Feeds graph input `name` through `op` first: the input gets `type`, the graph reads the op's output. */
function adaptInput(model: onnx.ModelProto, name: string, type: onnx.ITypeProto, op: onnx.INodeProto): void {
  const graph = model.graph as onnx.GraphProto;
  const inner = `${name}__adapted`;
  for (const node of graph.node) node.input = (node.input ?? []).map((i) => (i === name ? inner : i));
  graph.node.unshift(onnx.NodeProto.create({ ...op, input: [name, ...(op.input ?? [])], output: [inner] }));
  graph.input.find((i) => i.name === name)!.type = onnx.TypeProto.create(type);
}

const tensorType = (elemType: number, dims: (number | string)[]) =>
  onnx.TypeProto.create({
    tensorType: {
      elemType,
      shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
    },
  });

function rewrite(src: string, dst: string, edit: (m: onnx.ModelProto) => void): void {
  const model = readModel(readFileSync(src), src);
  edit(model);
  mkdirSync(join(dst, ".."), { recursive: true });
  writeFileSync(dst, onnx.ModelProto.encode(model).finish());
}

function diffusersScriptLayout(dir: string, predictionType: string): string {
  cpSync(join(tiny, "tokenizer"), join(dir, "tokenizer"), { recursive: true });
  rewrite(join(tiny, "text_encoder/model.onnx"), join(dir, "text_encoder/model.onnx"), (m) =>
    adaptInput(m, "input_ids", tensorType(T.INT32, ["batch", "sequence"]), { opType: "Cast", name: "/adapt/Cast", attribute: [{ name: "to", type: 2, i: T.INT64 }] }),
  );
  rewrite(join(tiny, "unet/model.onnx"), join(dir, "unet/model.onnx"), (m) => {
    adaptInput(m, "timestep", tensorType(T.FLOAT, [1]), { opType: "Squeeze", name: "/adapt/Squeeze" });
    for (const t of (m.graph as onnx.GraphProto).initializer) for (const e of t.externalData ?? []) if (e.key === "location") e.value = "weights.pb";
  });
  copyFileSync(join(tiny, "unet/model.onnx_data"), join(dir, "unet/weights.pb"));
  rewrite(join(tiny, "vae_encoder/model.onnx"), join(dir, "vae_encoder/model.onnx"), (m) => {
    const g = m.graph as onnx.GraphProto;
    g.initializer.push(int64s("/adapt/starts", [0]), int64s("/adapt/ends", [4]), int64s("/adapt/axes", [1]));
    g.node.push(onnx.NodeProto.create({ opType: "Slice", name: "/adapt/Slice", input: ["latent_parameters", "/adapt/starts", "/adapt/ends", "/adapt/axes"], output: ["latent_sample"] }));
    g.output[0] = onnx.ValueInfoProto.create({ name: "latent_sample", type: tensorType(T.FLOAT, ["batch", 4, "height", "width"]) });
  });
  mkdirSync(join(dir, "vae_decoder"), { recursive: true });
  copyFileSync(join(tiny, "vae_decoder/model.onnx"), join(dir, "vae_decoder/model.onnx"));
  const scheduler = JSON.parse(readFileSync(join(tiny, "scheduler/scheduler_config.json"), "utf8"));
  mkdirSync(join(dir, "scheduler"), { recursive: true });
  writeFileSync(join(dir, "scheduler/scheduler_config.json"), JSON.stringify({ ...scheduler, _class_name: "PNDMScheduler", skip_prk_steps: true, prediction_type: predictionType }));
  writeFileSync(join(dir, "model_index.json"), JSON.stringify({ _class_name: "OnnxStableDiffusionPipeline", unet: ["diffusers", "OnnxRuntimeModel"] }));
  return dir;
}

describe("a diffusers-script-layout export of the tiny model", () => {
  const options = { prompt: "a red fox in the snow", seed: 4, steps: 4, width: 64, height: 64 };

  test("really has the other conventions (int32 ids, [1] timestep, latent_sample, weights.pb)", () => {
    const dir = diffusersScriptLayout(join(root, "check"), "epsilon");
    const graph = (component: string) => readModel(readFileSync(join(dir, component, "model.onnx"))).graph as onnx.GraphProto;
    const input = (component: string, name: string) => graph(component).input.find((i) => i.name === name)!.type!.tensorType!;
    expect(input("text_encoder", "input_ids").elemType).toBe(T.INT32);
    expect(input("unet", "timestep").shape!.dim!.map((d) => Number(d.dimValue))).toEqual([1]);
    expect(graph("vae_encoder").output.map((o) => o.name)).toEqual(["latent_sample"]);
    const locations = new Set(graph("unet").initializer.flatMap((t) => (t.externalData ?? []).filter((e) => e.key === "location").map((e) => e.value)));
    expect([...locations]).toEqual(["weights.pb"]);
  });

  test("gives byte-identical txt2img and img2img to the optimum-layout original", async () => {
    using original = await StableDiffusion.load("tiny");
    using converted = await StableDiffusion.load(diffusersScriptLayout(join(root, "eps"), "epsilon"));
    const a = original.generate(options);
    expect(Buffer.compare(a.data, converted.generate(options).data)).toBe(0);
    const img = { ...options, prompt: "the sea", image: a, strength: 0.5 };
    expect(Buffer.compare(original.generate(img).data, converted.generate(img).data)).toBe(0);
  });

  test("reads v-prediction from the scheduler config", async () => {
    using eps = await StableDiffusion.load(diffusersScriptLayout(join(root, "eps2"), "epsilon"));
    using v = await StableDiffusion.load(diffusersScriptLayout(join(root, "v"), "v_prediction"));
    expect(Buffer.compare(eps.generate(options).data, v.generate(options).data)).not.toBe(0);
  });
});
