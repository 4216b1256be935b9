import { describe, expect, test } from "bun:test";
import { createScheduler, type LatentOps, type Scheduler } from "../../../../pipelines/sd/schedulers/index.ts";

// /work/shared/reference/schedulers.md §11: a fake UNet returning 0.5 × (scaled model input), one
// latent element starting at init_noise_sigma × 1, the full N = 20 schedule, SD config.
const SD_CONFIG = {
  _class_name: "PNDMScheduler",
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  trained_betas: null,
  steps_offset: 1,
  skip_prk_steps: true,
  set_alpha_to_one: false,
  clip_sample: false,
};

// Float64 single-element ops so the comparison measures the scheduler, not f32 rounding.
const scalarOps: LatentOps<number[]> = {
  combine: (terms) => [terms.reduce((acc, [c, x]) => acc + c * x[0]!, 0)],
};

function runFakeUnet(scheduler: Scheduler): { init: number; trajectory: number[] } {
  const { timesteps } = scheduler.setTimesteps(20);
  let x = [scheduler.initNoiseSigma];
  const trajectory: number[] = [];
  for (let i = 0; i < timesteps.length; i++) {
    const m = [0.5 * scheduler.scaleModelInput(scalarOps, x, i)[0]!];
    x = scheduler.step(scalarOps, m, i, x);
    trajectory.push(x[0]!);
  }
  return { init: scheduler.initNoiseSigma, trajectory };
}

function expectRel(actual: number, expected: number, rel: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

const rows: [string, string, Record<string, string>, number | null, [number, number, number]][] = [
  ["DDIM (leading, ε, η = 0)", "ddim", {}, 1, [1.1544, 1.316636, 2.501801]],
  ["DDIM (leading, v, η = 0)", "ddim", { prediction_type: "v_prediction" }, 1, [0.985508, 0.968251, 0.444754]],
  ["Euler (linspace, ε)", "euler", {}, 14.614645, [12.685258, 11.118996, 2.865055]],
  ["Euler (leading, ε)", "euler", { timestep_spacing: "leading" }, 11.07358, [9.754756, 8.667146, 2.466174]],
  ["Euler (linspace, v)", "euler", { prediction_type: "v_prediction" }, 14.614645, [10.633163, 7.897042, 0.429025]],
  ["DPM++ 2M (linspace, ε)", "dpm++2m", {}, 1, [1.168367, 1.335914, 2.706547]],
  ["DPM++ 2M Karras (ε)", "dpm++2m-karras", {}, 1, [1.122047, 1.255208, 2.683626]],
  ["PNDM/PLMS (leading, ε; 21 model calls)", "pndm", {}, 1, [1.1544, 1.142351, 2.380238]],
];

describe("a 20-step run with a fake UNet (m = 0.5 × model input)", () => {
  for (const [name, kind, extra, init, [first, second, final]] of rows) {
    describe(`with ${name}`, () => {
      const { init: ourInit, trajectory } = runFakeUnet(createScheduler({ ...SD_CONFIG, ...extra }, kind));
      test(`starts from init_noise_sigma ${init}`, () => expectRel(ourInit, init!, 1e-5));
      test(`gives ${first} after step 1 and ${second} after step 2`, () => {
        expectRel(trajectory[0]!, first, 1e-5);
        expectRel(trajectory[1]!, second, 1e-5);
      });
      test(`ends at ${final}`, () => {
        expect(trajectory.length).toBe(kind === "pndm" ? 21 : 20);
        expectRel(trajectory.at(-1)!, final, 1e-4);
      });
    });
  }
});
