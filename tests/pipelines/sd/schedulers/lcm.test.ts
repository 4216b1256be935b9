import { describe, expect, test } from "bun:test";
import { createScheduler } from "../../../../pipelines/sd/schedulers/index.ts";
import { LcmScheduler } from "../../../../pipelines/sd/schedulers/lcm.ts";
import { f64Ops as f64, expectRel } from "./fixtures.ts";

// Reference: /work/shared/reference/schedulers.md §9. An LCM model's config (diffusers LCMScheduler).
const LCM_CONFIG = {
  _class_name: "LCMScheduler",
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  original_inference_steps: 50,
  timestep_scaling: 10,
  set_alpha_to_one: true,
  prediction_type: "epsilon",
};

describe("LCM with 4 steps", () => {
  const lcm = createScheduler(LCM_CONFIG) as LcmScheduler;
  const { timesteps } = lcm.setTimesteps(4);

  test("is chosen from the config's class name", () => expect(lcm.kind).toBe("lcm"));

  test("uses timesteps 999, 759, 499, 259", () => expect(timesteps).toEqual([999, 759, 499, 259]));

  test("has the boundary scalings c_skip = 2.505e-9, c_out = 0.9999999987 at t = 999", () => {
    const c = lcm.stepCoefficients(0);
    expectRel(c.cSkip, 0.25 / (9990 ** 2 + 0.25), 1e-12);
    expect(c.cSkip).toBeCloseTo(2.505e-9, 11);
    expect(c.cOut).toBeCloseTo(0.9999999987, 10);
  });

  test("has c_skip = 3.727e-8 at t = 259", () => {
    expect(lcm.stepCoefficients(3).cSkip).toBeCloseTo(3.727e-8, 10);
  });

  test("re-noises the denoised latent to the next timestep: √ᾱ_759·d + √(1 − ᾱ_759)·z", () => {
    const x = 1.2;
    const m = 0.3;
    const ab = lcm.alphasCumprod[999]!;
    const abNext = lcm.alphasCumprod[759]!;
    const { cSkip, cOut } = lcm.stepCoefficients(0);
    const x0 = (x - Math.sqrt(1 - ab) * m) / Math.sqrt(ab);
    const denoised = cOut * x0 + cSkip * x;
    const expected = Math.sqrt(abNext) * denoised + Math.sqrt(1 - abNext) * -0.4;
    expectRel(lcm.step(f64, Float64Array.of(m), 0, Float64Array.of(x), () => Float64Array.of(-0.4))[0]!, expected, 1e-12);
  });

  test("returns the denoised latent on the last step, with no noise", () => {
    expect(lcm.needsNoise(2)).toBe(true);
    expect(lcm.needsNoise(3)).toBe(false);
    const ab = lcm.alphasCumprod[259]!;
    const { cSkip, cOut } = lcm.stepCoefficients(3);
    const expected = cOut * ((0.5 - Math.sqrt(1 - ab) * 0.1) / Math.sqrt(ab)) + cSkip * 0.5;
    expectRel(lcm.step(f64, Float64Array.of(0.1), 3, Float64Array.of(0.5))[0]!, expected, 1e-12);
  });

  test("refuses a step that needs noise without a source", () => {
    expect(() => lcm.step(f64, Float64Array.of(0), 0, Float64Array.of(0))).toThrow(/lcm step 0 needs noise/);
  });
});

describe("LCM img2img", () => {
  test("with strength 0.5 shortens the grid instead of skipping steps", () => {
    const lcm = createScheduler(LCM_CONFIG);
    expect(lcm.setTimesteps(4, { strength: 0.5 }).timesteps).toEqual([499, 379, 259, 139]);
    expect(lcm.sigmas.length).toBe(5);
    expect(lcm.sigmas.at(-1)).toBe(0);
  });

  test("refuses more steps than the shortened grid holds", () => {
    const lcm = createScheduler(LCM_CONFIG);
    expect(() => lcm.setTimesteps(11, { strength: 0.2 })).toThrow(/has 10 distilled timesteps, fewer than the 11 steps/);
  });
});
