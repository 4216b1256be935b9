import { describe, expect, test } from "bun:test";
import { sample } from "../../../pipelines/sd/sampler.ts";
import { createScheduler, float32Ops } from "../../../pipelines/sd/schedulers/index.ts";

const config = { beta_schedule: "scaled_linear", beta_start: 0.00085, beta_end: 0.012, steps_offset: 1, clip_sample: false, set_alpha_to_one: true }; // final DDIM step lands on ᾱ = 1, i.e. exactly x0

/** x_T for a known x0 and ε, and an oracle denoiser that always answers ε. */
function setup(kind: "ddim" | "euler") {
  const scheduler = createScheduler(config, kind);
  scheduler.setTimesteps(10);
  const x0 = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
  const eps = Float32Array.from({ length: 16 }, (_, i) => Math.cos(3 * i));
  const xT = scheduler.addNoise(float32Ops, x0, eps, scheduler.timesteps[0]!);
  return { scheduler, x0, eps, xT };
}

describe("sample", () => {
  for (const kind of ["ddim", "euler"] as const) {
    test(`${kind} with a denoiser that knows the noise recovers x0`, () => {
      const { scheduler, x0, eps, xT } = setup(kind);
      const seen: number[] = [];
      const out = sample({
        scheduler,
        ops: float32Ops,
        latents: xT,
        denoise: (_x, t) => (seen.push(t), eps),
        onStep: ({ total }) => void expect(total).toBe(10),
      });
      expect(seen).toEqual([...scheduler.timesteps]);
      out.forEach((v, i) => expect(v).toBeCloseTo(x0[i]!, 4));
    });
  }

  test("starts at startIndex and lets onStep replace the latents", () => {
    const { scheduler, eps, xT } = setup("ddim");
    const steps: number[] = [];
    const out = sample({
      scheduler,
      ops: float32Ops,
      latents: xT,
      startIndex: 7,
      denoise: () => eps,
      onStep: ({ stepIndex }) => {
        steps.push(stepIndex);
        return new Float32Array(16).fill(stepIndex);
      },
    });
    expect(steps).toEqual([7, 8, 9]);
    expect(Array.from(out)).toEqual(new Array(16).fill(9));
  });

  test("returns a copy, not the input, when no step is left", () => {
    const { scheduler, xT } = setup("ddim");
    const out = sample({ scheduler, ops: float32Ops, latents: xT, startIndex: 10, denoise: () => xT });
    expect(out).not.toBe(xT);
    expect(Array.from(out)).toEqual(Array.from(xT));
  });
});
