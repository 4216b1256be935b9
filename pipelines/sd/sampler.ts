import type { LatentOps, NoiseSource, Scheduler } from "./schedulers/index.ts";

/** What the model contributes to one step: its prediction for `x` at `timestep`. */
export type Denoise<T> = (x: T, timestep: number, stepIndex: number) => T;

export interface StepInfo<T> {
  stepIndex: number;
  timestep: number;
  /** Steps this run makes in all. */
  total: number;
  /** Latents after the step. */
  latents: T;
}

export interface SampleOptions<T> {
  scheduler: Scheduler;
  ops: LatentOps<T>;
  /** Starting latents (noise × initNoiseSigma, or noised image latents); not disposed. */
  latents: T;
  denoise: Denoise<T>;
  noise?: NoiseSource<T>;
  /** First step index to run (latent blending resumes mid-schedule); default 0. */
  startIndex?: number;
  /** Called after every step; a returned tensor replaces the latents (the old ones are disposed). */
  onStep?: (info: StepInfo<T>) => T | void;
}

/**
 * The denoising loop, pure: it never sees a UNet, guidance or hooks — those live behind
 * `denoise` (STYLE.md §4). Returns the final latents, a new tensor.
 */
export function sample<T>(options: SampleOptions<T>): T {
  const { scheduler, ops, denoise, noise, onStep } = options;
  const steps = scheduler.timesteps;
  const start = options.startIndex ?? 0;
  let x = options.latents;
  let owned = false;
  const replace = (next: T) => {
    if (owned) ops.dispose?.(x);
    x = next;
    owned = true;
  };
  for (let i = start; i < steps.length; i++) {
    const t = steps[i]!;
    const input = scheduler.scaleModelInput(ops, x, i);
    const prediction = denoise(input, t, i);
    ops.dispose?.(input);
    const next = scheduler.step(ops, prediction, i, x, noise);
    ops.dispose?.(prediction);
    replace(next);
    const changed = onStep?.({ stepIndex: i, timestep: t, total: steps.length - start, latents: x });
    if (changed !== undefined && changed !== x) replace(changed);
  }
  // The caller owns the result even when no step ran.
  return owned ? x : ops.combine([[1, x]]);
}
