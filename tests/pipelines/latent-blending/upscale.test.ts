/**
 * The ×4 second stage on `tiny` + `tiny-upscaler`: stage 1 at 32×32, stage 2 at 128×128.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { anchorIndices, LatentBlending, segmentTextFractions, type BlendOptions, type TransitionImages } from "../../../pipelines/latent-blending/index.ts";

describe("the anchors and text pairs of the upscale stage", () => {
  test("anchors are round(linspace(0, N − 1, 6)), at most N", () => {
    expect(anchorIndices(12, 6)).toEqual([0, 2, 4, 7, 9, 11]);
    expect(anchorIndices(3, 6)).toEqual([0, 1, 2]);
  });

  test("segment j pairs the texts of anchors j and j + 1 (the reference paired u_j with 1 − u_j)", () => {
    const u = [0, 0.25, 0.5, 0.75, 1];
    expect(segmentTextFractions(u)).toEqual([[0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1]]);
    // the buggy pairing would give (0, 1), (0.25, 0.75), (0.5, 0.5), (0.75, 0.25)
    const buggy = u.slice(0, -1).map((x) => [x, 1 - x]);
    expect(segmentTextFractions(u)).not.toEqual(buggy);
  });
});

describe("a two-stage transition", () => {
  let lb: LatentBlending;
  beforeAll(async () => {
    lb = await LatentBlending.load({ model: "tiny", upscaler: "tiny-upscaler" });
  });
  afterAll(() => lb.dispose());

  const options: BlendOptions = { width: 32, height: 32, steps: 4, fps: 6, duration: 2, maxBranches: 5, depthStrength: 0.25, upscale: { steps: 4, anchors: 3, branches: 3, depthStrength: 0.5 } };

  test("gives fps·duration frames 4× the size, anchors at their stage-1 fractions, in-betweens between", async () => {
    const stages: TransitionImages[] = [];
    const frames: Frame[] = [];
    for await (const f of lb.transition(["a forest", "a desert"], { ...options, onTransition: (_, t) => stages.push(t) })) frames.push(f);
    expect(lb.meta(options)).toMatchObject({ width: 128, height: 128 });
    expect(frames.length).toBe(12);
    expect(frames.every((f) => f.width === 128 && f.height === 128)).toBe(true);
    const low = stages[0]!;
    // 3 anchors of 5 stage-1 images (0, 2, 4), one in-between per segment at the middle fraction
    const u = [0, 2, 4].map((i) => low.fractions[i]!);
    expect(low.fractions.length).toBe(5);
    expect([u[0], u[2]]).toEqual([0, 1]);
  });

  test("upscales: each hi-res anchor looks like its low-res picture (mean abs difference of a 4× box average)", async () => {
    const stages: TransitionImages[] = [];
    const frames: Frame[] = [];
    for await (const f of lb.transition(["a forest", "a desert"], { ...options, onTransition: (_, t) => stages.push(t) })) frames.push(f);
    const low = stages[0]!.images;
    const boxDown = (f: Frame) => {
      const out = new Float64Array(32 * 32 * 3);
      for (let y = 0; y < 128; y++) for (let x = 0; x < 128; x++) for (let c = 0; c < 3; c++) out[((y >> 2) * 32 + (x >> 2)) * 3 + c]! += f.data[(y * 128 + x) * 3 + c]! / 16;
      return out;
    };
    const mad = (a: Float64Array, b: Frame) => a.reduce((s, v, i) => s + Math.abs(v - b.data[i]!), 0) / a.length;
    const first = mad(boxDown(frames[0]!), low[0]!);
    const last = mad(boxDown(frames.at(-1)!), low.at(-1)!);
    const crossed = mad(boxDown(frames[0]!), low.at(-1)!);
    expect(first).toBeLessThan(16);
    expect(last).toBeLessThan(16);
    expect(crossed).toBeGreaterThan(first);
  });

  test("refuses the upscale stage without an upscaler model", async () => {
    using plain = await LatentBlending.load({ model: "tiny" });
    const it = plain.transition(["a", "b"], options);
    await expect(it.next()).rejects.toThrow(/upscaler model/);
  });
});
