import { expect } from "bun:test";
import type { LatentOps } from "../../../../pipelines/sd/schedulers/index.ts";

/** SD 1.x's scheduler_config.json fields that the step formulas read (schedulers.md §1). */
export const SD_CONFIG = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  steps_offset: 1,
  set_alpha_to_one: false,
  clip_sample: false,
};

/** Float64 ops, so reference comparisons measure the scheduler, not f32 rounding. */
export const f64Ops: LatentOps<Float64Array> = {
  combine(terms) {
    const out = new Float64Array(terms[0]![1].length);
    for (const [c, x] of terms) for (let i = 0; i < out.length; i++) out[i]! += c * x[i]!;
    return out;
  },
};

export function expectRel(actual: number, expected: number, rel = 1e-6): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}
