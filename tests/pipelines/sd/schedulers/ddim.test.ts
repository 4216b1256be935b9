import { describe, expect, test } from "bun:test";
import { UsageError } from "../../../../pipelines/errors.ts";
import { DdimScheduler } from "../../../../pipelines/sd/schedulers/ddim.ts";
import { createScheduler, float32Ops, type LatentOps } from "../../../../pipelines/sd/schedulers/index.ts";
import { SD_CONFIG, f64Ops, expectRel } from "./fixtures.ts";

// Reference: /work/shared/reference/schedulers.md §4 (worked example) and §8 (img2img).
const f64: LatentOps<Float64Array> = {
  ...f64Ops,
  clamp: (x, lo, hi) => x.map((v) => Math.min(hi, Math.max(lo, v))),
};

describe("DDIM with the SD config and 20 leading steps", () => {
  const ddim = createScheduler(SD_CONFIG, "ddim") as DdimScheduler;
  ddim.setTimesteps(20);

  test("has init_noise_sigma 1 and an identity model-input scale", () => {
    expect(ddim.initNoiseSigma).toBe(1);
    expect(ddim.modelInputScale(0)).toBe(1);
    expect(ddim.scaleModelInput(f64, Float64Array.of(3), 0)).toEqual(Float64Array.of(3));
  });

  test("steps from t = 951 to t = 901 (prev = t − 1000 // 20)", () => {
    const c = ddim.stepCoefficients(0);
    expectRel(c.alphaBar, 0.00815500457);
    expectRel(c.alphaBarPrev, 0.0140048979);
    expect(c.std).toBe(0);
  });

  test("predicts x̂₀ = 5.55941055 for x = 1, m = 0.5", () => {
    expectRel(ddim.predictOriginal(f64, Float64Array.of(0.5), 0, Float64Array.of(1))[0]!, 5.55941055);
  });

  test("takes x = 1, m = 0.5 to 1.15439981 in the first step", () => {
    expectRel(ddim.step(f64, Float64Array.of(0.5), 0, Float64Array.of(1))[0]!, 1.15439981);
  });

  test("ends at ᾱ_prev = ᾱ_0 = 0.99915 since set_alpha_to_one is false", () => {
    const c = ddim.stepCoefficients(19);
    expectRel(c.alphaBar, 0.998296028);
    expectRel(c.alphaBarPrev, 0.99915);
    expectRel(ddim.sigmas.at(-1)!, 0.0291671582, 1e-5);
  });

  test("does not ask for noise when η = 0", () => {
    expect(ddim.needsNoise(0)).toBe(false);
    let calls = 0;
    ddim.step(f64, Float64Array.of(0.5), 0, Float64Array.of(1), () => {
      calls++;
      return Float64Array.of(0);
    });
    expect(calls).toBe(0);
  });
});

describe("DDIM with η = 1", () => {
  const ddim = createScheduler(SD_CONFIG, "ddim", { eta: 1 }) as DdimScheduler;
  ddim.setTimesteps(20);

  test("has σ²_t = 0.415239779 (std 0.644391014) on the first step", () => {
    const { std } = ddim.stepCoefficients(0);
    expectRel(std * std, 0.415239779);
    expectRel(std, 0.644391014);
    expect(ddim.needsNoise(0)).toBe(true);
  });

  test("adds std·z and shrinks the direction term to √(1 − ᾱ_prev − std²)", () => {
    const ab = 0.00815500457;
    const abPrev = 0.0140048979;
    const std = 0.644391014;
    const x0 = (1 - Math.sqrt(1 - ab) * 0.5) / Math.sqrt(ab);
    const expected = Math.sqrt(abPrev) * x0 + Math.sqrt(1 - abPrev - std * std) * 0.5 + std * 0.3;
    const out = ddim.step(f64, Float64Array.of(0.5), 0, Float64Array.of(1), () => Float64Array.of(0.3));
    expectRel(out[0]!, expected);
  });

  test("refuses to step without a noise source", () => {
    expect(() => ddim.step(f64, Float64Array.of(0.5), 0, Float64Array.of(1))).toThrow(UsageError);
    expect(() => ddim.step(f64, Float64Array.of(0.5), 0, Float64Array.of(1))).toThrow(/ddim step 0 needs noise/);
  });

  test("disposes the noise tensor it was handed", () => {
    const disposed: Float64Array[] = [];
    const z = Float64Array.of(0.1);
    ddim.step({ ...f64, dispose: (x) => disposed.push(x) }, Float64Array.of(0.5), 0, Float64Array.of(1), () => z);
    expect(disposed).toEqual([z]);
  });
});

describe("DDIM with clip_sample", () => {
  const ddim = createScheduler({ ...SD_CONFIG, clip_sample: true }, "ddim");
  ddim.setTimesteps(20);

  test("clamps x̂₀ to ±clip_sample_range before stepping", () => {
    const abPrev = 0.0140048979;
    // x̂₀ = 5.559 is clamped to 1; ε̂ stays the model output.
    const expected = Math.sqrt(abPrev) * 1 + Math.sqrt(1 - abPrev) * 0.5;
    expectRel(ddim.step(f64, Float64Array.of(0.5), 0, Float64Array.of(1))[0]!, expected);
  });

  test("needs latent ops with a clamp", () => {
    expect(() => ddim.step({ combine: f64.combine }, Float64Array.of(0.5), 0, Float64Array.of(1))).toThrow(
      /clip_sample needs a clamp operation/,
    );
  });

  test("is the class default when the config does not say", () => {
    const bare = createScheduler({ beta_schedule: "scaled_linear" }, "ddim");
    expect(bare.config.clipSample).toBe(true);
  });
});

describe("DDIM img2img with N = 50 and strength 0.75", () => {
  const ddim = createScheduler(SD_CONFIG, "ddim");
  const { timesteps } = ddim.setTimesteps(50, { strength: 0.75 });

  test("runs 37 steps starting at t = 721", () => {
    expect(timesteps.length).toBe(37);
    expect(timesteps[0]).toBe(721);
    expect(timesteps.at(-1)).toBe(1);
    expect(ddim.timesteps).toEqual(timesteps);
  });

  test("noises the image with √ᾱ_721 = 0.265544147 and √(1 − ᾱ_721) = 0.964098701", () => {
    const c = ddim.noiseCoefficients(721);
    expectRel(c.signal, 0.265544147);
    expectRel(c.noise, 0.964098701);
  });

  test("adds noise element by element as √ᾱ·x₀ + √(1 − ᾱ)·z", () => {
    const out = ddim.addNoise(float32Ops, Float32Array.of(0.8, -2), Float32Array.of(-1.5, 0.25), 721);
    expect(out[0]).toBeCloseTo(0.265544147 * 0.8 + 0.964098701 * -1.5, 6);
    expect(out[1]).toBeCloseTo(0.265544147 * -2 + 0.964098701 * 0.25, 6);
  });

  test("keeps stepping back by 1000 // 50 = 20 from the first remaining step", () => {
    const c = (ddim as DdimScheduler).stepCoefficients(0);
    expectRel(c.alphaBar, 0.0705136939);
    expectRel(c.alphaBarPrev, ddim.alphasCumprod[701]!, 1e-12);
  });

  test("refuses a strength that leaves no step", () => {
    expect(() => ddim.setTimesteps(10, { strength: 0.05 })).toThrow(/strength 0.05 with 10 steps leaves no denoising step/);
  });
});
