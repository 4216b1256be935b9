/**
 * LatentBlending on the embedded `tiny` model at 64×64, 4 DDIM steps: frame counts, keyframe
 * reuse across transitions, reproducibility, seeds, negative prompt, guards, both trees.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { UsageError } from "../../../pipelines/errors.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { LatentBlending, type BlendOptions, type TransitionImages } from "../../../pipelines/latent-blending/index.ts";

let lb: LatentBlending;
beforeAll(async () => {
  lb = await LatentBlending.load({ model: "tiny" });
});
afterAll(() => lb.dispose());

const base: BlendOptions = { width: 64, height: 64, steps: 4, fps: 4, duration: 2, maxBranches: 5, depthStrength: 0.25 };

async function run(prompts: string[], options: BlendOptions = {}) {
  const transitions: TransitionImages[] = [];
  const frames: Frame[] = [];
  const before = { ...lb.stats };
  for await (const f of lb.transition(prompts, { ...base, ...options, onTransition: (_, t) => transitions.push(t) })) frames.push(f);
  const stats = Object.fromEntries(Object.entries(lb.stats).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
  return { frames, transitions, stats };
}

const same = (a: Frame, b: Frame) => Buffer.compare(a.data, b.data) === 0;

describe("a two-prompt transition", () => {
  test("has fps·duration frames, starting and ending on the keyframes", async () => {
    const { frames, transitions, stats } = await run(["a forest", "a desert"]);
    expect(frames.length).toBe(8);
    const images = transitions[0]!.images;
    expect(images.length).toBe(5);
    expect(frames[0]).toBe(images[0]!);
    expect(frames.at(-1)).toBe(images.at(-1)!);
    expect(stats.keyframes).toBe(2);
    expect(stats.inbetweens).toBe(3);
  });

  test("is byte-reproducible, ancestral sampler included", async () => {
    for (const scheduler of ["ddim", "euler-a"] as const) {
      const a = await run(["a forest", "a desert"], { scheduler, seed: 3 });
      const b = await run(["a forest", "a desert"], { scheduler, seed: 3 });
      expect(a.frames.every((f, i) => same(f, b.frames[i]!))).toBe(true);
    }
  });

  test("gives each keyframe its own seed by default (seed + i), or the seeds given", async () => {
    const distinct = await run(["a forest", "a forest"]);
    const imgs = distinct.transitions[0]!.images;
    expect(same(imgs[0]!, imgs.at(-1)!)).toBe(false);
    const shared = await run(["a forest", "a forest"], { seeds: [5, 5] });
    const sImgs = shared.transitions[0]!.images;
    expect(same(sImgs[0]!, sImgs.at(-1)!)).toBe(true);
  });

  test("honours the negative prompt", async () => {
    const plain = await run(["a forest", "a desert"]);
    const negative = await run(["a forest", "a desert"], { negativePrompt: "blurry" });
    expect(same(plain.frames[0]!, negative.frames[0]!)).toBe(false);
  });

  test("with identical parents, text and guidance, every in-between reproduces the parent", async () => {
    // damper 1 − 1/g0 keeps g(f) = g0; no crossfeed: a child is the parent's own trajectory resumed
    const { transitions } = await run(["a forest", "a forest"], { seeds: [9, 9], guidance: 4, guidanceMidDamper: 0.75, parentalCrossfeed: { power: 0, range: 0, decay: 0 } });
    const images = transitions[0]!.images;
    expect(images.length).toBe(5);
    for (const img of images) expect(same(img, images[0]!)).toBe(true);
  });

  test("rejects a depth that injects at step 0", async () => {
    await expect(run(["a", "b"], { depthStrength: 0.1 })).rejects.toThrow(UsageError);
  });

  test("rejects fewer than two keyframes and a seed list of the wrong length", async () => {
    await expect(run(["a"])).rejects.toThrow(/at least 2 keyframes/);
    await expect(run(["a", "b"], { seeds: [1] })).rejects.toThrow(/1 seeds for 2 keyframes/);
  });
});

describe("the adaptive tree", () => {
  test("keeps fractions sorted and dyadic, with 2 + Σstems images", async () => {
    const { transitions } = await run(["a forest", "a desert"], { maxBranches: 9, steps: 8, depthStrength: 0.25 });
    const f = transitions[0]!.fractions;
    expect(f.length).toBe(9);
    expect([...f].sort((a, b) => a - b)).toEqual(f);
    expect(new Set(f).size).toBe(f.length);
    for (const x of f) expect(Number.isInteger(x * 2 ** 16)).toBe(true);
    expect(transitions[0]!.distances.length).toBe(8);
  });
});

describe("the fixed tree", () => {
  test("runs each block's steps only, reusing the keyframes as the endpoints", async () => {
    const { transitions, stats } = await run(["a forest", "a desert"], { branching: { injection: [0, 1, 2], branches: [2, 3, 5] } });
    expect(transitions[0]!.fractions).toEqual([0, 0.25, 0.5, 0.75, 1]);
    // keyframes 2·4; block 1: one new image × 1 step; block 2: three × 2 steps
    expect(stats.unetCalls).toBe(8 + 1 + 6);
  });
});

describe("a multi-transition", () => {
  test("computes each keyframe once and shows each join once", async () => {
    const { frames, transitions, stats } = await run(["a forest", "a desert", "the sea"]);
    expect(stats.keyframes).toBe(3);
    expect(stats.unetCalls).toBe(3 * 4 + stats.inbetweenSteps!);
    expect(frames.length).toBe(8 + 7);
    const join = transitions[0]!.images.at(-1)!;
    expect(transitions[1]!.images[0]).toBe(join);
    expect(frames.filter((f) => f === join).length).toBe(1);
  });

  test("keyframe latents are reused bitwise: a 2-prompt run's end equals the 3-prompt run's middle", async () => {
    const two = await run(["a desert", "the sea"], { seeds: [1, 2] });
    const three = await run(["a forest", "a desert", "the sea"], { seeds: [0, 1, 2] });
    expect(same(two.frames[0]!, three.transitions[1]!.images[0]!)).toBe(true);
    expect(same(two.frames.at(-1)!, three.frames.at(-1)!)).toBe(true);
  });
});

describe("image keyframes", () => {
  test("start a transition from a picture, deterministically", async () => {
    const picture: Frame = { width: 64, height: 64, data: Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7) % 256) };
    const a = await run([{ image: picture } as never, "a desert"]);
    const b = await run([{ image: picture } as never, "a desert"]);
    const prompt = await run(["", "a desert"]);
    expect(a.frames.length).toBe(8);
    expect(a.frames.every((f, i) => same(f, b.frames[i]!))).toBe(true);
    expect(same(a.frames[0]!, prompt.frames[0]!)).toBe(false);
  });
});
