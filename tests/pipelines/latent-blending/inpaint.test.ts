/**
 * Inpainting transitions on the tiny models at 64×64, 4 DDIM steps: the 4-channel paste path
 * (`tiny`) and the 9-channel conditioning path (`tiny-inpaint`). The mask keeps the left half
 * (black) and regenerates the right half (white); it is 40×24, so it is nearest-resized.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { LatentBlending, type BlendOptions, type TransitionImages } from "../../../pipelines/latent-blending/index.ts";
import type { Tensor } from "../../../pipelines/runtime/tensor.ts";

const W = 64;
const base: BlendOptions = { width: W, height: W, steps: 4, fps: 4, duration: 2, maxBranches: 5, depthStrength: 0.25 };

function halfMask(width: number, height: number): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = width / 2; x < width; x++) data.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  return { width, height, data };
}
const mask = halfMask(40, 24);

async function run(lb: LatentBlending, options: BlendOptions) {
  const transitions: TransitionImages[] = [];
  const frames: Frame[] = [];
  for await (const f of lb.transition(["a forest", "a desert", "the sea"], { ...base, ...options, onTransition: (_, t) => transitions.push(t) })) frames.push(f);
  return { frames, images: transitions.flatMap((t) => t.images) };
}

/** Largest byte difference over pixels at least `margin` columns left of the mask edge (x = W/2). */
function keptDiff(a: Frame, b: Frame, margin: number): number {
  let worst = 0;
  for (let y = 0; y < W; y++) for (let x = 0; x < W / 2 - margin; x++) for (let c = 0; c < 3; c++) {
    const i = (y * W + x) * 3 + c;
    worst = Math.max(worst, Math.abs(a.data[i]! - b.data[i]!));
  }
  return worst;
}
function regeneratedMad(a: Frame, b: Frame): number {
  let s = 0, n = 0;
  for (let y = 0; y < W; y++) for (let x = W / 2 + 8; x < W; x++) for (let c = 0; c < 3; c++, n++) s += Math.abs(a.data[(y * W + x) * 3 + c]! - b.data[(y * W + x) * 3 + c]!);
  return s / n;
}

describe("an inpainting transition on a 4-channel model (re-paste)", () => {
  let lb: LatentBlending;
  beforeAll(async () => {
    lb = await LatentBlending.load({ model: "tiny" });
  });
  afterAll(() => lb.dispose());

  test("keeps the first keyframe's latents exactly where the mask is black, at every frame's last step", async () => {
    const finals: Float32Array[] = [];
    const original = lb.afterStep.bind(lb);
    lb.afterStep = (x: Tensor, index: number) => {
      const out = original(x, index);
      if (index === base.steps! - 1) finals.push((out ?? x).readF32().slice());
      return out;
    };
    try {
      await run(lb, { mask });
    } finally {
      lb.afterStep = original;
    }
    // 3 keyframes + 3 in-betweens per transition
    expect(finals.length).toBe(9);
    const first = finals[0]!;
    const hw = (W / 8) ** 2;
    let kept = 0, changed = 0;
    for (const f of finals.slice(1)) {
      for (let i = 0; i < f.length; i++) {
        const regenerate = (i % hw) % (W / 8) >= W / 16;
        if (!regenerate) expect(f[i]).toBe(first[i]!), kept++;
        else if (f[i] !== first[i]) changed++;
      }
    }
    expect(kept).toBe(8 * 4 * hw / 2);
    expect(changed).toBeGreaterThan(0.9 * 8 * 4 * hw / 2);
  });

  test("keeps the kept region's pixels within the VAE's spill-over, and changes the rest", async () => {
    const { frames, images } = await run(lb, { mask });
    const first = frames[0]!;
    // Measured (largest over the frames, by distance from the edge 0/4/8/…/28 px): 49, 5, 5, 5, 5,
    // 5, 5, 2. The decoder's bilinear ×8 spills the edge over ~4 px; its GroupNorms see the whole
    // picture, so a change on the right moves every kept pixel by a few levels.
    for (const f of frames) expect(keptDiff(first, f, 4)).toBeLessThanOrEqual(6);
    for (const f of frames) expect(keptDiff(first, f, 0)).toBeLessThan(64);
    expect(regeneratedMad(first, images.at(-1)!)).toBeGreaterThan(10);
  });

  test("without a mask gives the same frames as before", async () => {
    const plain = await run(lb, {});
    const again = await run(lb, { mask: null });
    expect(plain.frames.every((f, i) => Buffer.compare(f.data, again.frames[i]!.data) === 0)).toBe(true);
  });
});

describe("an inpainting transition on a 9-channel inpainting model (conditioning)", () => {
  let lb: LatentBlending;
  beforeAll(async () => {
    lb = await LatentBlending.load({ model: "tiny-inpaint" });
  });
  afterAll(() => lb.dispose());

  test("reproduces the first keyframe's picture in the kept region and regenerates the rest", async () => {
    const { frames, images } = await run(lb, { mask });
    expect(lb.sd.unet.inChannels).toBe(9);
    const first = frames[0]!;
    // Measured 59, 25, 19, 19, 19, 19, 17, 15 (edge distance 0/4/…/28 px): on top of the decoder's
    // spill-over, the last DDIM step leaves √(1 − ᾱ₀)·ε ≈ 0.03·ε of noise on the kept latents.
    for (const f of frames.slice(1)) expect(keptDiff(first, f, 8)).toBeLessThanOrEqual(24);
    expect(regeneratedMad(first, images.at(-1)!)).toBeGreaterThan(10);
  });

  test("runs without a mask too (all regenerated)", async () => {
    const { frames } = await run(lb, {});
    expect(frames.length).toBe(15);
    expect(regeneratedMad(frames[0]!, frames.at(-1)!)).toBeGreaterThan(10);
  });
});
