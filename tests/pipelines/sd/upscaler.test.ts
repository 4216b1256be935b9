import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { UsageError } from "../../../pipelines/errors.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { Rng } from "../../../pipelines/sd/random.ts";
import { lowResAlphasCumprod, Upscaler } from "../../../pipelines/sd/upscaler.ts";

describe("the low-res (augmentation) schedule", () => {
  test("linear and scaled_linear betas give the hand-worked ᾱ", () => {
    const lin = lowResAlphasCumprod({ beta_schedule: "linear", beta_start: 0.0001, beta_end: 0.02, num_train_timesteps: 1000 });
    expect(lin[0]).toBeCloseTo(1 - 0.0001, 12);
    expect(lin[1]).toBeCloseTo((1 - 0.0001) * (1 - (0.0001 + 0.0199 / 999)), 12);
    const sc = lowResAlphasCumprod({ beta_schedule: "scaled_linear", beta_start: 0.0001, beta_end: 0.02 });
    expect(sc[999]! / sc[998]!).toBeCloseTo(1 - 0.02, 12);
  });
});

describe("the x4 upscaler on tiny-upscaler", () => {
  let up: Upscaler;
  const cpu = new CpuBackend();
  beforeAll(async () => {
    up = await Upscaler.load("tiny-upscaler", cpu);
  });
  afterAll(() => up.dispose());
  const frame: Frame = { width: 16, height: 8, data: Uint8Array.from({ length: 16 * 8 * 3 }, (_, i) => (i * 37) % 256) };

  test("augments the picture as √ᾱ·x + √(1 − ᾱ)·z at the noise level", () => {
    using aug = up.augment(frame, 20, 3);
    const ac = lowResAlphasCumprod({ beta_schedule: "scaled_linear", beta_start: 0.0001, beta_end: 0.02 })[20]!;
    const z = new Rng(3).fork(3).normal(new Float32Array(3 * 16 * 8));
    const got = aug.readF32();
    const n = 16 * 8;
    for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) {
      const x = (frame.data[i * 3 + c]! / 255) * 2 - 1;
      expect(got[c * n + i]).toBeCloseTo(Math.sqrt(ac) * x + Math.sqrt(1 - ac) * z[c * n + i]!, 5);
    }
    expect(() => up.augment(frame, 351, 0)).toThrow(UsageError);
  });

  test("makes a picture 4× the size, deterministically", () => {
    const a = up.upscale(frame, { steps: 3, seed: 1 });
    const b = up.upscale(frame, { steps: 3, seed: 1 });
    expect([a.width, a.height]).toEqual([64, 32]);
    expect(Buffer.compare(a.data, b.data)).toBe(0);
  });
});
