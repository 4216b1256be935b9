import { describe, expect, test } from "bun:test";
import { Rng } from "../../../../pipelines/sd/random.ts";
import {
  createScheduler,
  SCHEDULER_KINDS,
  type Scheduler,
} from "../../../../pipelines/sd/schedulers/index.ts";
import { f64Ops as f64 } from "./fixtures.ts";

// Properties every scheduler must have, checked with an oracle model that knows x₀.
const SD_CONFIG = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  steps_offset: 1,
  clip_sample: false,
};

const N = 64;
const x0 = Float64Array.from(new Rng(1).normal(new Float32Array(N)), (v) => 0.5 * v);
const z0 = Float64Array.from(new Rng(2).normal(new Float32Array(N)));

function noiseSource(seed: number): () => Float64Array {
  const rng = new Rng(seed);
  return () => Float64Array.from(rng.normal(new Float32Array(N)));
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** VP coefficients (√ᾱ, √(1−ᾱ)) of the latent entering step i. */
function vpAt(s: Scheduler, i: number): { a: number; b: number } {
  const sigma = s.sigmas[i]!;
  const a = 1 / Math.sqrt(1 + sigma * sigma);
  return { a, b: sigma * a };
}

type Model = (s: Scheduler, x: Float64Array, i: number) => Float64Array;

/** The true noise in x (x = signal·x₀ + noise·ε), expressed in the requested prediction type. */
function oracle(type: "epsilon" | "v_prediction" | "sample"): Model {
  return (s, x, i) => {
    const c = s.noiseCoefficients(s.timesteps[i]!);
    const eps = x.map((v, k) => (v - c.signal * x0[k]!) / c.noise);
    if (type === "epsilon") return eps;
    if (type === "sample") return Float64Array.from(x0);
    const { a, b } = vpAt(s, i);
    return eps.map((e, k) => a * e - b * x0[k]!);
  };
}

function run(s: Scheduler, model: Model, start: Float64Array, noiseSeed: number): Float64Array {
  const noise = noiseSource(noiseSeed);
  let x = start;
  for (let i = 0; i < s.timesteps.length; i++) x = s.step(f64, model(s, x, i), i, x, noise);
  return x;
}

const VARIANTS: [string, string, Record<string, unknown>, { eta?: number }][] = [
  ...SCHEDULER_KINDS.map((k) => [k, k, {}, {}] as [string, string, Record<string, unknown>, { eta?: number }]),
  ["ddim with η = 1", "ddim", {}, { eta: 1 }],
  ["ddim trailing", "ddim", { timestep_spacing: "trailing" }, {}],
  ["euler leading", "euler", { timestep_spacing: "leading" }, {}],
  ["euler-a trailing", "euler-a", { timestep_spacing: "trailing" }, {}],
];

describe("every scheduler, given the true noise at each step", () => {
  for (const [name, kind, extra, options] of VARIANTS) {
    describe(`(${name})`, () => {
      for (const type of ["epsilon", "v_prediction", "sample"] as const) {
        if (kind === "pndm" && type === "sample") {
          test("refuses a sample model, as diffusers' PNDM does", () => {
            expect(() => createScheduler({ ...SD_CONFIG, prediction_type: type }, kind)).toThrow(/pndm scheduler supports prediction_type epsilon and v_prediction/);
          });
          continue;
        }
        test(`recovers x₀ at the final step with a ${type} model`, () => {
          const s = createScheduler({ ...SD_CONFIG, ...extra, set_alpha_to_one: true, prediction_type: type }, kind, options);
          s.setTimesteps(kind === "lcm" ? 4 : 10);
          const start = s.addNoise(f64, x0, z0, s.timesteps[0]!);
          const out = run(s, oracle(type), start, 9);
          // LCM's boundary condition keeps c_skip ≈ 4e-8 of the latent on its last step.
          expect(maxAbsDiff(out, x0)).toBeLessThan(kind === "lcm" ? 1e-6 : 1e-9);
        });
      }

      test("predicts x₀ exactly at every step", () => {
        const s = createScheduler({ ...SD_CONFIG, ...extra }, kind, options);
        s.setTimesteps(kind === "lcm" ? 4 : 10);
        const noise = noiseSource(4);
        let x = s.addNoise(f64, x0, z0, s.timesteps[0]!);
        for (let i = 0; i < s.timesteps.length; i++) {
          const m = oracle("epsilon")(s, x, i);
          expect(maxAbsDiff(s.predictOriginal(f64, m, i, x), x0)).toBeLessThan(1e-9);
          x = s.step(f64, m, i, x, noise);
        }
      });

      test("gives the same trajectory for a v-model fed the v-equivalent of any ε", () => {
        // A fake ε-model unrelated to x₀; the v-model is handed v = √ᾱ·ε − √(1−ᾱ)·x̂₀(ε).
        const fakeEps: Model = (s, x, i) => x.map((v, k) => 0.3 * v * s.modelInputScale(i) + 0.1 * Math.sin(k + i));
        const asV: Model = (s, x, i) => {
          const eps = fakeEps(s, x, i);
          const { a, b } = vpAt(s, i);
          const scale = s.modelInputScale(i);
          return eps.map((e, k) => a * e - b * ((x[k]! * scale - b * e) / a));
        };
        const eps = createScheduler({ ...SD_CONFIG, ...extra }, kind, options);
        const v = createScheduler({ ...SD_CONFIG, ...extra, prediction_type: "v_prediction" }, kind, options);
        for (const s of [eps, v]) s.setTimesteps(kind === "lcm" ? 4 : 10);
        const start = eps.addNoise(f64, x0, z0, eps.timesteps[0]!);
        const a = run(eps, fakeEps, start, 5);
        const b = run(v, asV, start, 5);
        expect(maxAbsDiff(a, b)).toBeLessThan(1e-9 * (1 + maxAbsDiff(a, new Float64Array(N))));
      });
    });
  }
});

describe("img2img, given the true noise", () => {
  for (const kind of ["ddim", "euler", "dpm++2m"]) {
    test(`${kind} starting from addNoise at the first remaining step recovers x₀`, () => {
      const s = createScheduler({ ...SD_CONFIG, set_alpha_to_one: true }, kind);
      const { timesteps } = s.setTimesteps(20, { strength: 0.6 });
      expect(timesteps.length).toBe(12);
      const start = s.addNoise(f64, x0, z0, timesteps[0]!);
      expect(maxAbsDiff(run(s, oracle("epsilon"), start, 3), x0)).toBeLessThan(1e-9);
    });
  }
});
