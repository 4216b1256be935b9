/**
 * The attention-interpolation pipeline on tiny-controlnet at 64×64 with 4 DDIM steps: the
 * reference's invariants (spec "Test ideas") end to end.
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
  AttentionInterpolation,
  DEFAULT_INTERPOLATION,
  INTERPOLATE_DEFAULTS,
  interpolationOff,
  syntheticFrame,
  type InterpolateOptions,
  type InterpolationConfig,
  type StateEstimate,
} from "../../../pipelines/attention-interpolation/index.ts";
import { createConditioner } from "../../../pipelines/attention-interpolation/conditioner.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";

const ai = await AttentionInterpolation.load({ model: "tiny-controlnet" });
afterAll(() => ai.dispose());

const SIZE = { width: 64, height: 64 };
const base: InterpolateOptions = { prompt: "a red fox in the snow", seed: 5, steps: 4, histNormalize: "none", ...SIZE };
const clip = (n: number) => Array.from({ length: n }, (_, i) => syntheticFrame(i, { frames: n, ...SIZE }));

async function run(frames: Frame[], options: Partial<InterpolateOptions> = {}) {
  let estimate: StateEstimate | undefined;
  async function* source() {
    yield* frames;
  }
  const out: Frame[] = [];
  for await (const f of ai.run(source(), { ...base, ...options, onEstimate: (e) => (estimate = e) })) out.push(f);
  return { out, estimate };
}
const with_ = (patch: (c: InterpolationConfig) => InterpolationConfig) => ({ interpolation: patch(structuredClone(DEFAULT_INTERPOLATION)) });
const maxDiff = (a: Frame, b: Frame) => a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i]!)), 0);
const same = (a: Frame, b: Frame) => Buffer.compare(a.data, b.data) === 0;

describe("attention interpolation on tiny-controlnet", () => {
  const frames = clip(3);

  test("ema 0 on every site gives byte-identical frames to per-frame generation without hooks", async () => {
    const zero = with_((c) => ({
      ...c,
      pipe: { ...c.pipe, ema: 0 },
      unet: { ...c.unet, ema: 0, sites: { q: true, k: true, v: true, probs: true, out: true } },
    }));
    const { out } = await run(frames, zero);
    expect(ai.state.count).toBeGreaterThan(0); // the state is still written
    const conditioner = createConditioner("canny", ai.sd.backend);
    frames.forEach((f, i) => {
      using control = conditioner(f);
      const plain = ai.sd.generate({ prompt: base.prompt, negativePrompt: INTERPOLATE_DEFAULTS.negativePrompt, seed: 5, steps: 4, ...SIZE, scheduler: "ddim", control: [{ image: control.image, scale: 1, guessMode: true }] });
      expect(same(out[i]!, plain)).toBe(true);
    });
  });

  test("interpolation changes later frames but never frame 0", async () => {
    const two = [frames[0]!, frames[2]!];
    const on = await run(two);
    const off = await run(two, { interpolation: interpolationOff() });
    expect(same(on.out[0]!, off.out[0]!)).toBe(true);
    expect(same(on.out[1]!, off.out[1]!)).toBe(false);
  });

  test("identical input frames give identical outputs for any ema", async () => {
    const still = [frames[1]!, frames[1]!];
    const { out } = await run(still, with_((c) => ({ ...c, pipe: { ...c.pipe, ema: 0.8 }, unet: { ...c.unet, ema: 0.9, sites: { ...c.unet.sites, v: true } } })));
    // identical rows take slerp's lerp fallback, a + t·(a − a) = a exactly
    expect(same(out[1]!, out[0]!)).toBe(true);
  });

  test("latents ema 1, eta 1, end = total make every frame equal frame 0", async () => {
    const { out } = await run(frames, with_((c) => ({ ...c, pipe: { ...c.pipe, ema: 1, eta: 1, end: 4 } })));
    expect(same(out[1]!, out[0]!)).toBe(true);
    expect(same(out[2]!, out[0]!)).toBe(true);
  });

  test("one hook call per site per step; probs only where keys ≤ res²; cross-attention never", async () => {
    // at 64×64 the latent is 8×8: 64 keys at the top level, 16 one level down, 4 in the mid block
    await run(frames.slice(0, 2), with_((c) => ({ ...c, unet: { ...c.unet, attentionRes: 4, sites: { q: true, k: true, v: true, probs: true, out: true } } })));
    const unet = ai.blenders[0]!;
    expect([...unet.stats.calls.values()].every((n) => n === 2)).toBe(true);
    const keys = ai.state.keys().filter((k) => k.startsWith("unet/"));
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => k.includes("attn2"))).toBe(false);
    const probsBlocks = new Set(keys.filter((k) => k.includes("/probs@")).map((k) => k.split("/probs@")[0]));
    const allBlocks = new Set(keys.map((k) => k.replace(/\/[a-z]+@\d+$/, "")));
    expect(probsBlocks.size).toBeGreaterThan(0);
    expect(probsBlocks.size).toBeLessThan(allBlocks.size);
    // down_blocks.0 attends over 64 keys: its out is blended, its probs are not
    expect([...allBlocks].some((b) => b.includes("down_blocks.0/"))).toBe(true);
    for (const b of probsBlocks) expect(b).not.toContain("down_blocks.0/");
    // steps 1…3 of 4 blend, step 0 never
    expect(keys.some((k) => k.endsWith("@0"))).toBe(false);
    expect(new Set(keys.map((k) => k.split("@")[1]))).toEqual(new Set(["1", "2", "3"]));
  });

  test("ControlNet self-attention sites blend when turned on, and change later frames", async () => {
    const two = [frames[0]!, frames[2]!];
    const off = await run(two);
    const on = await run(two, with_((c) => ({ ...c, controlnet: { ...c.controlnet, ema: 0.9, sites: { ...c.controlnet.sites, probs: true, out: true } } })));
    const controlnet = ai.blenders[1]!;
    expect(controlnet.stats.blends).toBeGreaterThan(0);
    const keys = ai.state.keys().filter((k) => k.startsWith("controlnet/"));
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => k.includes("attn2"))).toBe(false);
    expect(same(on.out[0]!, off.out[0]!)).toBe(true);
    expect(same(on.out[1]!, off.out[1]!)).toBe(false);
  });

  test("the state holds exactly the estimate given before it was written", async () => {
    for (const stateDtype of ["f32", "f16"] as const) {
      const { estimate } = await run(frames.slice(0, 2), with_((c) => ({ ...c, stateDtype })));
      expect(estimate!.bytes).toBe(ai.state.bytes);
      expect(estimate!.bytes).toBeGreaterThan(0);
    }
  });

  test("f16 state gives frames within a few levels of f32 state", async () => {
    const two = [frames[0]!, frames[2]!];
    const f32 = await run(two);
    const f16 = await run(two, with_((c) => ({ ...c, stateDtype: "f16" })));
    const mean = f32.out[1]!.data.reduce((s, v, i) => s + Math.abs(v - f16.out[1]!.data[i]!), 0) / f32.out[1]!.data.length;
    expect(mean).toBeLessThan(1);
    expect(maxDiff(f32.out[1]!, f16.out[1]!)).toBeLessThanOrEqual(8);
  });

  test("img2img keys the state on the scheduler's step index, so it never wraps (reference bug)", async () => {
    // strength 0.5 of 8 steps runs 4: with a call counter over 8 slots, frame 1 would land in
    // slots 4–7, find them empty and not blend at all. Keyed by step, frame 1 meets frame 0's state.
    const locked = with_((c) => ({ ...c, pipe: { ...c.pipe, ema: 1, eta: 1 } }));
    const { out } = await run(frames, { ...locked, steps: 8, strength: 0.5 });
    expect(new Set(ai.state.keys().map((k) => Number(k.split("@")[1])))).toEqual(new Set([1, 2, 3]));
    expect(same(out[1]!, out[0]!)).toBe(true);
    expect(same(out[2]!, out[0]!)).toBe(true);
  });

  test("outputs go back to the input's size, or stay at the generation size", async () => {
    const wide = [syntheticFrame(0, { width: 96, height: 48 }), syntheticFrame(1, { width: 96, height: 48 })];
    const back = await run(wide);
    expect(back.out.map((f) => [f.width, f.height])).toEqual([[96, 48], [96, 48]]);
    const kept = await run(wide, { originalOutputSize: false, width: 64, height: 32 });
    expect(kept.out.map((f) => [f.width, f.height])).toEqual([[64, 32], [64, 32]]);
  });
});
