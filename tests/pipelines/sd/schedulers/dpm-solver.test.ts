import { describe, expect, test } from "bun:test";
import { DpmSolverScheduler } from "../../../../pipelines/sd/schedulers/dpm-solver.ts";
import { createScheduler } from "../../../../pipelines/sd/schedulers/index.ts";
import { SD_CONFIG, f64Ops as f64, expectRel } from "./fixtures.ts";

// Reference: /work/shared/reference/schedulers.md §7, §11.
// The solver's quantities written straight from the paper's notation, with logs.
const alphaOf = (s: number) => 1 / Math.sqrt(1 + s * s);
const sigmaVp = (s: number) => s / Math.sqrt(1 + s * s);
const lambdaOf = (s: number) => Math.log(alphaOf(s)) - Math.log(sigmaVp(s));

describe("DPM-Solver++ 2M with the SD config and 20 linspace steps", () => {
  const dpm = createScheduler(SD_CONFIG, "dpm++2m") as DpmSolverScheduler;
  dpm.setTimesteps(20);

  test("works in VP space: init_noise_sigma 1, identity model-input scale", () => {
    expect(dpm.initNoiseSigma).toBe(1);
    expect(dpm.modelInputScale(3)).toBe(1);
  });

  test("has λ = −2.68202, −2.38915, −2.11659 on its first three steps", () => {
    expect(dpm.timesteps.slice(0, 3)).toEqual([999, 949, 899]);
    [-2.68202, -2.38915, -2.11659].forEach((l, i) => expect(lambdaOf(dpm.sigmas[i]!)).toBeCloseTo(l, 5));
    expect(dpm.sigmas.at(-1)).toBe(0);
  });

  test("takes a first-order step first: x_t = (σ_t/σ_s)·x − α_t(e^{−h} − 1)·D₀", () => {
    const [s, t] = [dpm.sigmas[0]!, dpm.sigmas[1]!];
    const x = 1.3;
    const m = 0.4;
    const d0 = (x - sigmaVp(s) * m) / alphaOf(s);
    const h = lambdaOf(t) - lambdaOf(s);
    const expected = (sigmaVp(t) / sigmaVp(s)) * x - alphaOf(t) * (Math.exp(-h) - 1) * d0;
    expect(dpm.usesFirstOrder(0)).toBe(true);
    expectRel(dpm.step(f64, Float64Array.of(m), 0, Float64Array.of(x))[0]!, expected, 1e-12);
  });

  test("then a second-order (midpoint) step using the previous D₀", () => {
    const [s1, s0, t] = [dpm.sigmas[0]!, dpm.sigmas[1]!, dpm.sigmas[2]!];
    const dPrev = (1.3 - sigmaVp(s1) * 0.4) / alphaOf(s1);
    const x = 0.9;
    const m = -0.2;
    const d0 = (x - sigmaVp(s0) * m) / alphaOf(s0);
    const h = lambdaOf(t) - lambdaOf(s0);
    const r0 = (lambdaOf(s0) - lambdaOf(s1)) / h;
    const d1 = (d0 - dPrev) / r0;
    const e = Math.exp(-h) - 1;
    const expected = (sigmaVp(t) / sigmaVp(s0)) * x - alphaOf(t) * e * d0 - 0.5 * alphaOf(t) * e * d1;
    expect(dpm.usesFirstOrder(1)).toBe(false);
    expectRel(dpm.step(f64, Float64Array.of(m), 1, Float64Array.of(x))[0]!, expected, 1e-12);
  });

  test("returns exactly D₀ on the final step to σ = 0", () => {
    expect(dpm.usesFirstOrder(19)).toBe(true);
    const s = dpm.sigmas[19]!;
    const expected = (0.25 - sigmaVp(s) * 0.1) / alphaOf(s);
    expectRel(dpm.step(f64, Float64Array.of(0.1), 19, Float64Array.of(0.25))[0]!, expected, 1e-14);
  });

  test("falls back to first order when the previous step index was not the one before", () => {
    dpm.setTimesteps(20);
    dpm.step(f64, Float64Array.of(0.1), 4, Float64Array.of(0.25));
    expect(dpm.usesFirstOrder(5)).toBe(false);
    expect(dpm.usesFirstOrder(7)).toBe(true);
  });

  test("forgets its history on setTimesteps and disposes the stored D₀", () => {
    const disposed: Float64Array[] = [];
    const ops = { ...f64, dispose: (x: Float64Array) => disposed.push(x) };
    dpm.setTimesteps(20);
    dpm.step(ops, Float64Array.of(0.1), 0, Float64Array.of(0.25));
    expect(disposed.length).toBe(0);
    dpm.step(ops, Float64Array.of(0.1), 1, Float64Array.of(0.25));
    expect(disposed.length).toBe(1);
    dpm.setTimesteps(20);
    expect(disposed.length).toBe(2);
    expect(dpm.usesFirstOrder(1)).toBe(true);
  });
});

describe("DPM-Solver++ 2M with the heun solver type", () => {
  test("weights D₁ by α_t((e^{−h} − 1)/h + 1)", () => {
    const dpm = createScheduler({ ...SD_CONFIG, solver_type: "heun" }, "dpm++2m");
    dpm.setTimesteps(20);
    dpm.step(f64, Float64Array.of(0), 0, Float64Array.of(1));
    const [s1, s0, t] = [dpm.sigmas[0]!, dpm.sigmas[1]!, dpm.sigmas[2]!];
    const dPrev = 1 / alphaOf(s1);
    const d0 = 1 / alphaOf(s0);
    const h = lambdaOf(t) - lambdaOf(s0);
    const r0 = (lambdaOf(s0) - lambdaOf(s1)) / h;
    const e = Math.exp(-h) - 1;
    const expected =
      (sigmaVp(t) / sigmaVp(s0)) * 1 - alphaOf(t) * e * d0 + alphaOf(t) * (e / h + 1) * ((d0 - dPrev) / r0);
    expectRel(dpm.step(f64, Float64Array.of(0), 1, Float64Array.of(1))[0]!, expected, 1e-12);
  });
});

describe("DPM-Solver++ 2M Karras for 20 steps", () => {
  const dpm = createScheduler(SD_CONFIG, "dpm++2m-karras");
  const { timesteps } = dpm.setTimesteps(20);

  test("uses integer timesteps mapped back from the Karras sigmas", () => {
    expect(timesteps).toEqual([999, 962, 921, 876, 827, 772, 710, 640, 561, 474, 380, 285, 197, 123, 69, 35, 15, 6, 2, 0]);
  });

  test("spans σ_max to σ_min of the training table, then 0", () => {
    expectRel(dpm.sigmas[0]!, 14.6146412, 1e-6);
    expectRel(dpm.sigmas[19]!, 0.0291671582, 1e-6);
    expect(dpm.sigmas[20]).toBe(0);
  });

  test("reports its kind as dpm++2m-karras", () => expect(dpm.kind).toBe("dpm++2m-karras"));
});

describe("DPM-Solver++ 2M img2img with strength 0.5", () => {
  test("runs the last 10 steps and starts them first-order", () => {
    const dpm = createScheduler(SD_CONFIG, "dpm++2m") as DpmSolverScheduler;
    const { timesteps } = dpm.setTimesteps(20, { strength: 0.5 });
    expect(timesteps).toEqual([500, 450, 400, 350, 300, 250, 200, 150, 100, 50]);
    expect(dpm.usesFirstOrder(0)).toBe(true);
    const c = dpm.noiseCoefficients(500);
    expectRel(c.signal, Math.sqrt(dpm.alphasCumprod[500]!), 1e-12);
    expectRel(c.noise, Math.sqrt(1 - dpm.alphasCumprod[500]!), 1e-12);
  });
});
