import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../../pipelines/errors.ts";
import { ensureTinyModel } from "../../../pipelines/sd/tiny/index.ts";
import { GraphBuilder } from "../../../pipelines/onnx/model-builder.ts";
import { fill } from "../../../pipelines/runtime/blend-ops.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { OrtModel } from "../../../pipelines/runtime/ort-model.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { Rng } from "../../../pipelines/sd/random.ts";
import { Unet } from "../../../pipelines/sd/unet.ts";
import { type HookContext, HookableModel, type SiteSelector } from "../../../pipelines/sd/unet-hooks.ts";
import { writeSdpaUnet } from "../onnx/sdpa-unet.ts";

const cpu = new CpuBackend();
const tmp = mkdtempSync(join(tmpdir(), "latentloom-hooks-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** attention-interpolation's default UNet set: self-attention probs where keys ≤ 32², and self-attention out. */
const PROBS: SiteSelector = { site: "probs", self: true, maxRes: 32, blocks: ["down", "mid", "up"] };
const OUT: SiteSelector = { site: "out", self: true, blocks: ["down", "mid", "up"] };

function inputs(seed: number, size: number, contextWidth: number, contextTokens = 77) {
  const rng = new Rng(seed);
  return {
    sample: Tensor.from(cpu, "f32", [2, 4, size, size], rng.normal(new Float32Array(2 * 4 * size * size))),
    context: Tensor.from(cpu, "f32", [2, contextTokens, contextWidth], rng.normal(new Float32Array(2 * contextTokens * contextWidth))),
  };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe("UNet hooks", () => {
  describe("on the tiny UNet at 256×256 (32×32 latents), batch 2", () => {
    let unet: Unet;
    let sample: Tensor;
    let context: Tensor;
    let reference: Float32Array;
    const predict = (index?: number) => {
      using out = unet.predict(sample, 500, context, {}, index === undefined ? undefined : { index });
      return out.readF32();
    };
    beforeAll(async () => {
      unet = Unet.load(join(await ensureTinyModel(), "unet", "model.onnx"), cpu);
      ({ sample, context } = inputs(11, 32, 64));
      reference = predict();
    });
    afterAll(() => {
      unet.dispose();
      sample.dispose();
      context.dispose();
    });

    test("identity hooks on the attention-interpolation set give the uncut output", () => {
      const seen: string[] = [];
      const handles = [unet.hook(PROBS, (_, ctx) => void seen.push(ctx.site.name)), unet.hook(OUT, (_, ctx) => void seen.push(ctx.site.name))];
      try {
        for (let i = 0; i < 2; i++) expect(maxAbsDiff(predict(i), reference)).toBeLessThanOrEqual(1e-5);
      } finally {
        for (const h of handles) h.remove();
      }
      // 7 self-attention blocks, all with keys ≤ 1024 at this size: probs and out of each, twice
      expect(seen.length).toBe(2 * 14);
      expect(new Set(seen).size).toBe(14);
    });

    test("hooks see the real tensors: probs rows sum to 1, out is [B, tokens, channels]", () => {
      const shapes: Record<string, number[]> = {};
      let worstRowSum = 0;
      const h1 = unet.hook({ site: "probs", self: true, blocks: ["mid"] }, (t, ctx) => {
        shapes[ctx.site.kind] = [...t.shape];
        const p = t.readF32();
        const keys = t.shape.at(-1)!;
        for (let r = 0; r < p.length / keys; r++) {
          let s = 0;
          for (let j = 0; j < keys; j++) s += p[r * keys + j]!;
          worstRowSum = Math.max(worstRowSum, Math.abs(s - 1));
        }
      });
      const h2 = unet.hook({ site: "out", self: true, blocks: ["mid"] }, (t, ctx) => void (shapes[ctx.site.kind] = [...t.shape]));
      try {
        predict(0);
      } finally {
        h1.remove();
        h2.remove();
      }
      // mid block: 8×8 = 64 tokens, 2 heads, 64 channels
      expect(shapes).toEqual({ probs: [2 * 2, 64, 64], out: [2, 64, 64] });
      expect(worstRowSum).toBeLessThan(1e-5);
    });

    test("a hook that zeroes one block's out changes the output", () => {
      const zeros = Tensor.empty(cpu, "f32", [2, 1024, 32]);
      const h = unet.hook({ site: "out", self: true, where: (s) => s.block.name.startsWith("down_blocks.0/") }, () => zeros);
      try {
        expect(maxAbsDiff(predict(0), reference)).toBeGreaterThan(1e-3);
      } finally {
        h.remove();
        zeros.dispose();
      }
    });

    test("a hook on one site is called exactly once per predict, with that predict's step index and context", () => {
      const calls: HookContext[] = [];
      const h = unet.hook({ site: "probs", self: true, blocks: ["up"], where: (s) => s.block.place.blockIndex === 1 && s.block.place.attentionIndex === 1 }, (_, ctx) => void calls.push(ctx));
      try {
        predict(3);
        predict(4);
        predict();
      } finally {
        h.remove();
      }
      expect(calls.map((c) => ({ site: c.site.name, step: c.stepIndex, tokens: c.tokens, latent: c.latent }))).toEqual(
        [3, 4, undefined].map((step) => ({
          site: "up_blocks.1/attentions.1/transformer_blocks.0/attn1:probs",
          step,
          tokens: { query: 256, key: 256 },
          latent: { height: 32, width: 32 },
        })),
      );
    });

    test("several hooks on one site run in registration order, each given the previous result", () => {
      const order: string[] = [];
      const doubled = Tensor.empty(cpu, "f32", [2, 64, 64]);
      const first = unet.hook(OUT, (t, ctx) => {
        if (ctx.site.block.place.block !== "mid") return;
        order.push("first");
        const src = t.readF32();
        (doubled.hostView() as Float32Array).set(src.map((v) => 2 * v));
        return doubled;
      });
      const second = unet.hook({ site: "out", blocks: ["mid"], self: true }, (t) => {
        order.push(t === doubled ? "second saw first's tensor" : "second saw another tensor");
      });
      try {
        expect(maxAbsDiff(predict(0), reference)).toBeGreaterThan(1e-3);
      } finally {
        first.remove();
        second.remove();
        doubled.dispose();
      }
      expect(order).toEqual(["first", "second saw first's tensor"]);
    });

    test("removing every hook, or hooks that select nothing, runs the uncut UNet again", () => {
      let called = 0;
      const h = unet.hook({ site: "probs", maxRes: 4 }, () => void called++); // no block has ≤ 16 keys
      try {
        expect(unet.hooks.selectedSites(32, 32)).toEqual([]);
        expect(Array.from(predict(0))).toEqual(Array.from(reference));
      } finally {
        h.remove();
      }
      expect(called).toBe(0);
      expect(unet.hooks.hookCount).toBe(0);
      expect(Array.from(predict(1))).toEqual(Array.from(reference));
    });

    test("maxRes selects by key count at the call's latent size", () => {
      const h = unet.hook({ site: "probs", self: true, maxRes: 16 }, () => undefined);
      try {
        expect(unet.hooks.selectedSites(32, 32).map((s) => s.block.name.split("/")[0])).toEqual(["down_blocks.1", "mid_block", "up_blocks.1", "up_blocks.1"]);
        expect(unet.hooks.selectedSites(16, 16).length).toBe(7);
      } finally {
        h.remove();
      }
    });

    test("a replacement of another shape is refused, naming both shapes", () => {
      using wrong = Tensor.empty(cpu, "f32", [2, 64, 63]);
      const h = unet.hook({ site: "out", self: true, blocks: ["mid"] }, () => wrong);
      try {
        expect(() => predict(0)).toThrow(/hook at ".*mid_block.*attn1\/to_out\.0\/Add_output_0" returned f32 \[2,64,63\] on cpu; it must match f32 \[2,64,64\] on cpu/);
      } finally {
        h.remove();
      }
    });

    test("a bad selector is a UsageError naming the choices", () => {
      expect(() => unet.hook({ site: "attn" as never }, () => undefined)).toThrow(UsageError);
      expect(() => unet.hook({ site: "attn" as never }, () => undefined)).toThrow(/hook site "attn" is not one of q, k, v, probs, out/);
      expect(() => unet.hook({ site: "q", blocks: ["middle" as never] }, () => undefined)).toThrow(/hook block "middle" is not one of down, mid, up, unknown/);
      expect(unet.hooks.hookCount).toBe(0);
    });

    test("a request no site can match is an error naming it and listing the sites the model has", () => {
      let message = "";
      try {
        unet.hook({ site: "probs", self: false, blocks: ["mid"], where: (s) => s.block.place.blockIndex === 7 }, () => undefined);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        message = (e as Error).message;
      }
      expect(message).toContain("hook { site: probs, cross-attention, blocks: mid, where: (function) } matches no site of");
      expect(message).toContain(`it has ${unet.hooks.blocks.length} attention blocks: `);
      for (const b of unet.hooks.blocks) expect(message).toContain(`${b.name} (${b.self ? "self" : "cross"}, ${b.place.block}: q,k,v,probs,out)`);
      expect(message).not.toContain("\n");
      expect(unet.hooks.hookCount).toBe(0);
      // maxRes depends on the latent size of a call, so a selector that only maxRes rules out is accepted
      unet.hook({ site: "probs", maxRes: 1 }, () => undefined).remove();
    });

    test("on a graph with no attention, the error says the finder recognises none", () => {
      const g = new GraphBuilder("plain");
      const x = g.input("sample", "f32", [1, 4, 8, 8]);
      g.output(g.node("Relu", [x]), "f32", [1, 4, 8, 8]);
      const path = join(tmp, "plain.onnx");
      writeFileSync(path, g.toModel());
      using model = OrtModel.load(path, cpu);
      using hookable = new HookableModel(model);
      expect(() => hookable.hook({ site: "out" }, () => undefined)).toThrow(/matches no site of .*plain\.onnx; it has no attention block the site finder recognises/);
    });
  });

  describe("on the residual-taking UNet and the ControlNet of tiny-controlnet", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await ensureTinyModel("tiny-controlnet");
    });

    const residualShapes = (b: number, h: number) => [
      [b, 32, h, h],
      [b, 32, h, h],
      [b, 32, h / 2, h / 2],
      [b, 64, h / 2, h / 2],
      [b, 64, h / 4, h / 4],
      [b, 64, h / 4, h / 4],
    ];

    test("the UNet with residuals gives the uncut output under identity hooks", () => {
      using unet = Unet.load(join(dir, "unet", "model.onnx"), cpu);
      const { sample, context } = inputs(5, 16, 64);
      const rng = new Rng(6);
      const extra: Record<string, Tensor> = {};
      residualShapes(2, 16).forEach((shape, i) => {
        extra[`down_block_${i}`] = Tensor.from(cpu, "f32", shape, rng.normal(new Float32Array(shape.reduce((a, b) => a * b, 1))).map((v) => 0.1 * v));
      });
      extra.mid_block_additional_residual = Tensor.from(cpu, "f32", [2, 64, 4, 4], new Float32Array(2 * 64 * 16).fill(0.05));
      try {
        const ref = unet.predict(sample, 250, context, extra);
        let calls = 0;
        unet.hook({ site: ["q", "k", "v", "probs", "out"] }, () => void calls++);
        const cut = unet.predict(sample, 250, context, extra, { index: 0 });
        expect(maxAbsDiff(cut.readF32(), ref.readF32())).toBeLessThanOrEqual(1e-5);
        expect(calls).toBe(14 * 5);
        ref.dispose();
        cut.dispose();
      } finally {
        for (const t of [sample, context, ...Object.values(extra)]) t.dispose();
      }
    });

    test("the ControlNet through HookableModel gives its uncut residuals, and a zeroed out changes them", () => {
      using model = OrtModel.load(join(dir, "controlnet", "model.onnx"), cpu);
      using hooked = new HookableModel(model);
      const { sample, context } = inputs(8, 16, 64);
      using cond = Tensor.from(cpu, "f32", [2, 3, 128, 128], (() => {
        const rng = new Rng(9);
        return Float32Array.from({ length: 2 * 3 * 128 * 128 }, () => rng.uniform());
      })());
      using timestep = Tensor.from(cpu, "f32", [1], Float32Array.of(400));
      const feeds = { sample, timestep, encoder_hidden_states: context, controlnet_cond: cond };
      const names = [...residualShapes(2, 16).map((_, i) => `down_block_${i}`), "mid_block_additional_residual"];
      const shapes = [...residualShapes(2, 16), [2, 64, 4, 4]];
      const run = () => {
        const outs = Object.fromEntries(names.map((n, i) => [n, Tensor.empty(cpu, "f32", shapes[i]!)]));
        hooked.run(feeds, outs, { index: 2 });
        const data = names.map((n) => outs[n]!.readF32());
        for (const t of Object.values(outs)) t.dispose();
        return data;
      };
      try {
        const ref = run();
        const identity = hooked.hook({ site: ["probs", "out"] }, () => undefined);
        run().forEach((r, i) => expect(maxAbsDiff(r, ref[i]!)).toBeLessThanOrEqual(1e-5));
        identity.remove();
        const zero = hooked.hook({ site: "out", self: true, blocks: ["mid"] }, (t) => fill(Tensor.empty(cpu, "f32", t.shape), 0));
        const changed = run();
        zero.remove();
        // the mid attention comes after every down residual but the ones of down_blocks.2 and the mid one
        expect(changed.slice(0, 4).map((r, i) => maxAbsDiff(r, ref[i]!))).toEqual([0, 0, 0, 0]);
        expect(maxAbsDiff(changed[6]!, ref[6]!)).toBeGreaterThan(1e-4);
      } finally {
        sample.dispose();
        context.dispose();
      }
    });
  });

  describe("on the export-shaped graph (AttnProcessor2_0, /unet/ prefix, rank-1 timestep)", () => {
    test("Unet.predict with identity hooks on every site gives the uncut output, zeroing out changes it", () => {
      const { path } = writeSdpaUnet(join(tmp, "sdpa"));
      using unet = Unet.load(path, cpu);
      const { sample, context } = inputs(12, 12, 6, 5);
      try {
        using ref = unet.predict(sample, 600, context);
        const names: string[] = [];
        const h = unet.hook({ site: ["q", "k", "v", "probs", "out"] }, (_, ctx) => void names.push(ctx.site.name));
        using cut = unet.predict(sample, 600, context, {}, { index: 1 });
        h.remove();
        expect(maxAbsDiff(cut.readF32(), ref.readF32())).toBeLessThanOrEqual(1e-5);
        expect(names.length).toBe(25);
        expect(names[0]).toBe("unet/down_blocks.0/attentions.0/transformer_blocks.0/attn1:q");
        const z = unet.hook({ site: "out", self: false, blocks: ["up"] }, (t) => fill(Tensor.empty(cpu, "f32", t.shape), 0));
        using zeroed = unet.predict(sample, 600, context, {}, { index: 1 });
        z.remove();
        expect(maxAbsDiff(zeroed.readF32(), ref.readF32())).toBeGreaterThan(1e-4);
      } finally {
        sample.dispose();
        context.dispose();
      }
    });
  });
});
