import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { onnx } from "onnx-proto";
import { Session, Value } from "../../../../ffi/ort/index.ts";
import { readModel } from "../../../../pipelines/onnx/model-builder.ts";
import { ensureTinyModel } from "../../../../pipelines/sd/tiny/index.ts";
import { ClipTokenizer } from "../../../../pipelines/sd/clip-tokenizer.ts";
import { Rng } from "../../../../pipelines/sd/random.ts";
import { createScheduler, float32Ops } from "../../../../pipelines/sd/schedulers/index.ts";

const OPTIONS = { intraOpThreads: 2 };
const ATTENTION_BLOCKS = [
  "/down_blocks.0/attentions.0",
  "/down_blocks.1/attentions.0",
  "/mid_block/attentions.0",
  "/up_blocks.1/attentions.0",
  "/up_blocks.1/attentions.1",
  "/up_blocks.2/attentions.0",
  "/up_blocks.2/attentions.1",
];
const ATTENTION_SCOPES = ATTENTION_BLOCKS.flatMap((b) => [`${b}/transformer_blocks.0/attn1`, `${b}/transformer_blocks.0/attn2`]);

let dir: string;
let cnDir: string;
let unet: Session;
let residualUnet: Session;
let textEncoder: Session;
let graph: onnx.IGraphProto;

beforeAll(async () => {
  dir = await ensureTinyModel();
  cnDir = await ensureTinyModel("tiny-controlnet");
  unet = Session.create(join(dir, "unet", "model.onnx"), OPTIONS);
  residualUnet = Session.create(join(cnDir, "unet", "model.onnx"), OPTIONS);
  textEncoder = Session.create(join(dir, "text_encoder", "model.onnx"), OPTIONS);
  graph = readModel(readFileSync(join(dir, "unet", "model.onnx"))).graph!;
});

const f32 = (shape: number[], data?: Float32Array) => Value.fromTypedArray("f32", shape, data ?? new Float32Array(shape.reduce((a, b) => a * b, 1)));
const noise = (seed: number, count: number) => new Rng(seed).normal(new Float32Array(count));

function embed(ids: Int32Array): Float32Array {
  const out = textEncoder.run({ input_ids: Value.fromTypedArray("i64", [1, 77], BigInt64Array.from(Array.from(ids, BigInt))) });
  return out.last_hidden_state!.data.slice() as Float32Array;
}

function runUnet(session: Session, sample: Float32Array, shape: number[], t: number, context: Float32Array, extra: Record<string, Value> = {}): Float32Array {
  const out = session.run({ sample: f32(shape, sample), timestep: f32([], Float32Array.of(t)), encoder_hidden_states: f32([shape[0]!, 77, 64], context), ...extra });
  return out.out_sample!.data as Float32Array;
}

/** Zero residuals shaped from the session's declared dims. */
function zeroResiduals(session: Session, batch: number, h: number, w: number): Record<string, Value> {
  const feeds: Record<string, Value> = {};
  for (const input of session.inputs.slice(3)) {
    const dims = input.dims.map((d, k) => {
      if (d > 0) return d;
      const name = input.dimNames[k]!;
      if (name === "batch_size") return batch;
      const div = Number(name.replace(/^(height|width)/, "")) || 1;
      return (name.startsWith("height") ? h : w) / div;
    });
    feeds[input.name] = f32(dims);
  }
  return feeds;
}

/** Mean |difference| of horizontal and vertical neighbours over a [C, H, W] block. */
function roughness(x: Float32Array, c: number, h: number, w: number): number {
  let sum = 0;
  let count = 0;
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let i = 0; i < w; i++) {
        const v = x[(ch * h + y) * w + i]!;
        if (i + 1 < w) (sum += Math.abs(x[(ch * h + y) * w + i + 1]! - v)), count++;
        if (y + 1 < h) (sum += Math.abs(x[(ch * h + y + 1) * w + i]! - v)), count++;
      }
    }
  }
  return sum / count;
}

describe("the tiny UNet", () => {
  describe("as an ONNX model", () => {
    test("has optimum ≥ 1.24 inputs: sample [batch_size,4,height,width], rank-0 float timestep, encoder_hidden_states", () => {
      expect(unet.inputs.map((i) => ({ name: i.name, dtype: i.dtype, dims: i.dims, dimNames: i.dimNames }))).toEqual([
        { name: "sample", dtype: "f32", dims: [-1, 4, -1, -1], dimNames: ["batch_size", "", "height", "width"] },
        { name: "timestep", dtype: "f32", dims: [], dimNames: [] },
        { name: "encoder_hidden_states", dtype: "f32", dims: [-1, -1, 64], dimNames: ["batch_size", "sequence_length", ""] },
      ]);
      expect(unet.outputs.map((o) => ({ name: o.name, dtype: o.dtype, dims: o.dims }))).toEqual([{ name: "out_sample", dtype: "f32", dims: [-1, 4, -1, -1] }]);
    });

    test("keeps its weights in unet/model.onnx_data (external data)", () => {
      const external = graph.initializer!.filter((t) => t.externalData?.some((e) => e.key === "location" && e.value === "model.onnx_data"));
      expect(external.length).toBeGreaterThan(100);
      expect(external.some((t) => t.name === "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight")).toBe(true);
    });

    test("contains exactly the 14 attention modules of diffusers' scopes (attn1 and attn2 in 7 Transformer2D blocks)", () => {
      const scopes = new Set(graph.node!.filter((n) => n.opType === "Softmax").map((n) => n.name!.replace(/\/Softmax$/, "")));
      expect([...scopes].sort()).toEqual([...ATTENTION_SCOPES].sort());
    });

    describe.each(ATTENTION_SCOPES)("attention %s", (scope) => {
      const byName = () => new Map(graph.node!.map((n) => [n.name!, n]));
      const producer = (value: string) => graph.node!.find((n) => n.output!.includes(value));

      test("has to_q/to_k/to_v MatMuls, the Softmax and to_out.0 MatMul + Add", () => {
        const names = byName();
        for (const leaf of ["to_q/MatMul", "to_k/MatMul", "to_v/MatMul", "MatMul", "Mul", "Softmax", "MatMul_1", "to_out.0/MatMul", "to_out.0/Add"]) {
          expect(names.get(`${scope}/${leaf}`)?.name).toBe(`${scope}/${leaf}`);
        }
      });

      test("follows the classic AttnProcessor pattern from Q·Kᵀ to to_out.0", () => {
        const names = byName();
        const softmax = names.get(`${scope}/Softmax`)!;
        const mul = producer(softmax.input![0]!)!;
        expect(mul.opType).toBe("Mul");
        const qk = producer(mul.input![0]!)!;
        expect(qk.opType).toBe("MatMul");
        // Q: Reshape ← Transpose ← Reshape ← to_q; K: Transpose ← Reshape ← Transpose ← Reshape ← to_k.
        const qChain = [producer(qk.input![0]!)!];
        while (qChain.length < 4) qChain.push(producer(qChain.at(-1)!.input![0]!)!);
        expect(qChain.map((n) => n.opType)).toEqual(["Reshape", "Transpose", "Reshape", "MatMul"]);
        expect(qChain[3]!.name).toBe(`${scope}/to_q/MatMul`);
        const kChain = [producer(qk.input![1]!)!];
        while (kChain.length < 5) kChain.push(producer(kChain.at(-1)!.input![0]!)!);
        expect(kChain.map((n) => n.opType)).toEqual(["Transpose", "Reshape", "Transpose", "Reshape", "MatMul"]);
        expect(kChain[4]!.name).toBe(`${scope}/to_k/MatMul`);
        const av = names.get(`${scope}/MatMul_1`)!;
        expect(av.input![0]).toBe(softmax.output![0]);
        const back = [graph.node!.find((n) => n.input!.includes(av.output![0]!))!];
        while (back.length < 4) back.push(graph.node!.find((n) => n.input!.includes(back.at(-1)!.output![0]!))!);
        expect(back.map((n) => n.opType)).toEqual(["Reshape", "Transpose", "Reshape", "MatMul"]);
        expect(back[3]!.name).toBe(`${scope}/to_out.0/MatMul`);
      });

      test(scope.endsWith("attn2") ? "reads K and V from encoder_hidden_states" : "reads K and V from its own hidden states", () => {
        const names = byName();
        for (const proj of ["to_k", "to_v"]) {
          const source = names.get(`${scope}/${proj}/MatMul`)!.input![0];
          if (scope.endsWith("attn2")) expect(source).toBe("encoder_hidden_states");
          else expect(source).toBe(names.get(`${scope}/to_q/MatMul`)!.input![0]);
        }
      });
    });
  });

  describe("when run", () => {
    test.each([
      [1, 256, 256],
      [2, 256, 256],
      [1, 320, 192],
      [2, 320, 192],
    ])("gives a finite out_sample of the sample's shape for batch %d at %dx%d pixels", (batch, width, height) => {
      const shape = [batch, 4, height / 8, width / 8];
      const out = runUnet(unet, noise(1, batch * 4 * (height / 8) * (width / 8)), shape, 500, new Float32Array(batch * 77 * 64).fill(0.1));
      expect(out.length).toBe(batch * 4 * (height / 8) * (width / 8));
      expect(out.every(Number.isFinite)).toBe(true);
    });

    test("broadcasts the scalar timestep to the batch (each batch item equals its batch-1 run)", () => {
      const n = 4 * 24 * 40;
      const a = noise(2, n);
      const b = noise(3, n);
      const ctx = noise(4, 77 * 64);
      const both = new Float32Array(2 * n);
      both.set(a, 0);
      both.set(b, n);
      const ctx2 = new Float32Array(2 * 77 * 64);
      ctx2.set(ctx, 0);
      ctx2.set(ctx, 77 * 64);
      const batched = runUnet(unet, both, [2, 4, 24, 40], 321.5, ctx2);
      const single = runUnet(unet, b, [1, 4, 24, 40], 321.5, ctx);
      for (let i = 0; i < n; i += 97) expect(batched[n + i]!).toBeCloseTo(single[i]!, 4);
    });

    test("with all-zero ControlNet residuals, the residual-taking variant gives the plain UNet's output", () => {
      const shape = [2, 4, 24, 40];
      const sample = noise(5, 2 * 4 * 24 * 40);
      const ctx = noise(6, 2 * 77 * 64);
      const plain = runUnet(unet, sample, shape, 700, ctx);
      const residual = runUnet(residualUnet, sample, shape, 700, ctx, zeroResiduals(residualUnet, 2, 24, 40));
      expect(Array.from(residual)).toEqual(Array.from(plain));
    });

    test("treats high frequencies as noise: at t = 1, ε·√(1−ᾱ) of white noise is nearly the noise itself", () => {
      const n = 4 * 32 * 32;
      const x = noise(7, n);
      // ᾱ(1) = (1 − β₀)(1 − β₁) of SD's scaled_linear schedule.
      const beta = (i: number) => (Math.sqrt(0.00085) + (i / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085))) ** 2;
      const abar = (1 - beta(0)) * (1 - beta(1));
      const out = runUnet(unet, x, [1, 4, 32, 32], 1, new Float32Array(77 * 64));
      const s = Math.sqrt(1 - abar);
      let num = 0;
      let den = 0;
      for (let i = 0; i < n; i++) {
        num += (out[i]! * s - x[i]!) ** 2;
        den += x[i]! ** 2;
      }
      // Only the blurred part (a few % of white noise's energy) and U stay out of ε.
      expect(num / den).toBeLessThan(0.1);
    });
  });

  describe("in an 8-step DDIM loop with CFG 7.5 at 256×256", () => {
    let tokenizer: ClipTokenizer;
    beforeAll(async () => {
      tokenizer = await ClipTokenizer.load(join(dir, "tokenizer"));
    });

    function txt2img(prompt: string, seed: number): { initial: Float32Array; final: Float32Array } {
      const context = new Float32Array(2 * 77 * 64);
      context.set(embed(tokenizer.encode("")), 0);
      context.set(embed(tokenizer.encode(prompt)), 77 * 64);
      const scheduler = createScheduler(JSON.parse(readFileSync(join(dir, "scheduler", "scheduler_config.json"), "utf8")), "ddim");
      const { timesteps } = scheduler.setTimesteps(8);
      const n = 4 * 32 * 32;
      const initial = noise(seed, n);
      let x = initial;
      for (let i = 0; i < timesteps.length; i++) {
        const both = new Float32Array(2 * n);
        both.set(x, 0);
        both.set(x, n);
        const e = runUnet(unet, both, [2, 4, 32, 32], timesteps[i]!, context);
        const eps = new Float32Array(n);
        for (let k = 0; k < n; k++) eps[k] = e[k]! + 7.5 * (e[n + k]! - e[k]!);
        x = scheduler.step(float32Ops, eps, i, x);
      }
      return { initial, final: x };
    }

    let fox1: { initial: Float32Array; final: Float32Array };
    beforeAll(() => {
      fox1 = txt2img("a red fox in a forest", 1);
    });
    const rms = (a: Float32Array, b?: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - (b?.[i] ?? 0)) ** 2, 0) / a.length);

    test("ends much smoother than the noise it started from (neighbour differences drop over 5×)", () => {
      expect(fox1.final.every(Number.isFinite)).toBe(true);
      expect(roughness(fox1.final, 4, 32, 32)).toBeLessThan(roughness(fox1.initial, 4, 32, 32) / 5);
    });

    test("ends with latents of about unit size, neither flat nor blown up", () => {
      const size = rms(fox1.final);
      expect(size).toBeGreaterThan(0.3);
      expect(size).toBeLessThan(4);
    });

    test("depends on the seed", () => {
      const other = txt2img("a red fox in a forest", 2).final;
      expect(rms(other, fox1.final)).toBeGreaterThan(0.5 * rms(fox1.final));
    });

    test("depends visibly on the prompt", () => {
      const other = txt2img("a blue ocean with waves", 1).final;
      expect(rms(other, fox1.final)).toBeGreaterThan(0.25 * rms(fox1.final));
    });
  });
});
