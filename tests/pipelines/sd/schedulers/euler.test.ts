import { describe, expect, test } from "bun:test";
import { EulerAncestralScheduler } from "../../../../pipelines/sd/schedulers/euler.ts";
import { createScheduler } from "../../../../pipelines/sd/schedulers/index.ts";
import { SD_CONFIG, f64Ops as f64, expectRel } from "./fixtures.ts";

// Reference: /work/shared/reference/schedulers.md §5, §6, §8.
const SIGMAS_20 = [
  14.614645, 10.746849, 8.081535, 6.204951, 4.855665, 3.865384, 3.123769, 2.557168, 2.115662, 1.764825, 1.480583,
  1.245815, 1.048143, 0.87843, 0.72972, 0.596435, 0.473586, 0.355547, 0.232168, 0.029168, 0,
];

describe("Euler with the SD config (no spacing key → linspace) and 20 steps", () => {
  const euler = createScheduler(SD_CONFIG, "euler");
  euler.setTimesteps(20);

  test("has the tabulated σ list ending in 0", () => {
    expect(euler.sigmas.length).toBe(21);
    // diffusers' list is float32: 1e-5 relative, or 1e-6 absolute near σ_min.
    euler.sigmas.forEach((s, i) => expect(Math.abs(s - SIGMAS_20[i]!)).toBeLessThanOrEqual(1e-5 * SIGMAS_20[i]! + 1e-6));
  });

  test("starts from init_noise_sigma = σ_max = 14.6146", () => expectRel(euler.initNoiseSigma, 14.6146412));

  test("feeds the UNet x/√(σ² + 1) and the fractional timestep", () => {
    expectRel(euler.modelInputScale(0), 1 / 14.6488135, 1e-6);
    expectRel(euler.scaleModelInput(f64, Float64Array.of(2), 1)[0]!, 2 / Math.sqrt(euler.sigmas[1]! ** 2 + 1), 1e-12);
    expect(euler.timesteps[1]).toBeCloseTo(946.4211, 4);
  });

  test("follows the worked example to 12.6852540", () => {
    const x = Float64Array.of(14.614645);
    const m = Float64Array.of(0.5 * euler.scaleModelInput(f64, x, 0)[0]!);
    // by hand: x̂₀ = x − σ·m, x₁ = x + (x − x̂₀)/σ·(σ₁ − σ)
    const xIn = 14.614645 / Math.sqrt(euler.sigmas[0]! ** 2 + 1);
    const byHand = 14.614645 + 0.5 * xIn * (euler.sigmas[1]! - euler.sigmas[0]!);
    const ours = euler.step(f64, m, 0, x)[0]!;
    expectRel(ours, byHand, 1e-12);
    expectRel(ours, 12.685254, 1e-6);
  });

  test("never asks for noise", () => {
    expect(euler.needsNoise(0)).toBe(false);
  });

  test("adds noise as x₀ + σ·z with σ of the matching step (σ-space)", () => {
    const c = euler.noiseCoefficients(euler.timesteps[3]!);
    expect(c.signal).toBe(1);
    expect(c.noise).toBe(euler.sigmas[3]!);
    const out = euler.addNoise(f64, Float64Array.of(0.5), Float64Array.of(-1), euler.timesteps[3]!);
    expect(out[0]).toBeCloseTo(0.5 - euler.sigmas[3]!, 12);
  });
});

describe("Euler with leading spacing (SDXL-style config)", () => {
  const euler = createScheduler({ ...SD_CONFIG, timestep_spacing: "leading" }, "euler");
  euler.setTimesteps(20);

  test("starts at σ(951) = 11.028335 with init_noise_sigma √(σ² + 1) = 11.07358", () => {
    expect(euler.timesteps[0]).toBe(951);
    expectRel(euler.sigmas[0]!, 11.0283312, 1e-6);
    expectRel(euler.initNoiseSigma, 11.07358, 1e-5);
  });
});

describe("Euler with use_karras_sigmas", () => {
  test("uses the Karras list and maps each σ back to a fractional timestep", () => {
    const euler = createScheduler({ ...SD_CONFIG, use_karras_sigmas: true }, "euler");
    euler.setTimesteps(20);
    expect(euler.sigmas[1]).toBeCloseTo(11.72537, 4);
    expect(euler.timesteps[0]).toBeCloseTo(999, 6);
    expect(euler.timesteps[1]).toBeCloseTo(962, 0);
    expect(Number.isInteger(euler.timesteps[1]!)).toBe(false);
  });
});

describe("Euler img2img with strength 0.5 over 20 steps", () => {
  const euler = createScheduler(SD_CONFIG, "euler");
  const { timesteps } = euler.setTimesteps(20, { strength: 0.5 });

  test("runs the last 10 steps and indexes σ from the start position", () => {
    expect(timesteps.length).toBe(10);
    expect(euler.sigmas[0]).toBeCloseTo(1.480583, 5);
    expect(euler.sigmas.length).toBe(11);
    expect(euler.modelInputScale(0)).toBeCloseTo(1 / Math.sqrt(1.480583 ** 2 + 1), 6);
  });

  test("noises at the start timestep with that σ", () => {
    expect(euler.noiseCoefficients(timesteps[0]!).noise).toBeCloseTo(1.480583, 5);
  });
});

describe("Euler ancestral over the same 20 linspace steps", () => {
  const ea = createScheduler(SD_CONFIG, "euler-a") as EulerAncestralScheduler;
  ea.setTimesteps(20);

  test("splits the first step into σ_up 7.283030 and σ_down 7.902673", () => {
    const { sigmaUp, sigmaDown } = ea.ancestralSigmas(0);
    expectRel(sigmaUp, 7.28303, 1e-5);
    expectRel(sigmaDown, 7.902673, 1e-5);
  });

  test("steps deterministically to σ_down and adds σ_up·z", () => {
    const x = Float64Array.of(3);
    const m = Float64Array.of(0.2);
    const sigma = ea.sigmas[0]!;
    const { sigmaUp, sigmaDown } = ea.ancestralSigmas(0);
    const original = 3 - sigma * 0.2;
    const expected = 3 + ((3 - original) / sigma) * (sigmaDown - sigma) + sigmaUp * 0.7;
    expectRel(ea.step(f64, m, 0, x, () => Float64Array.of(0.7))[0]!, expected, 1e-12);
  });

  test("needs noise on every step but the last, where σ_up = σ_down = 0", () => {
    expect(ea.needsNoise(0)).toBe(true);
    expect(ea.needsNoise(18)).toBe(true);
    expect(ea.needsNoise(19)).toBe(false);
    expect(ea.ancestralSigmas(19)).toEqual({ sigmaUp: 0, sigmaDown: 0 });
  });

  test("refuses to step without a noise source", () => {
    expect(() => ea.step(f64, Float64Array.of(0), 0, Float64Array.of(1))).toThrow(/euler-a step 0 needs noise/);
  });
});
