/**
 * Latent Consistency Model multistep sampling (Luo et al. 2023, arXiv 2310.04378), as diffusers'
 * LCMScheduler. Ref: /work/shared/reference/schedulers.md §9.
 * img2img `strength` shortens the distilled grid instead of skipping steps, so every returned
 * timestep is run.
 */
import { UsageError } from "../../errors.ts";
import type { LatentOps } from "./latent-ops.ts";
import { sigmaFromAlphaBar } from "./noise-schedule.ts";
import { SchedulerBase, type NoiseSource } from "./scheduler.ts";
import { lcmTimesteps } from "./timestep-spacing.ts";

const SIGMA_DATA = 0.5;

export class LcmScheduler extends SchedulerBase {
  readonly kind = "lcm" as const;
  protected readonly varianceExploding = false;

  protected buildSchedule(steps: number, strength: number): void {
    const c = this.config;
    const timesteps = lcmTimesteps(c.numTrainTimesteps, steps, c.originalInferenceSteps, strength);
    if (timesteps === null) {
      const available = Math.floor(c.originalInferenceSteps * strength);
      throw new UsageError(
        `lcm with strength ${strength} has ${available} distilled timesteps, fewer than the ${steps} steps ` +
          `asked; use at most ${available} steps`,
      );
    }
    this.fullTimesteps = timesteps;
    this.fullSigmas = [...timesteps.map((t) => sigmaFromAlphaBar(this.alphasCumprod[t]!)), 0];
    this.startIndex = 0;
  }

  /** Boundary-condition scalings: denoised = cOut·x̂₀ + cSkip·x, and ᾱ of the next timestep. */
  stepCoefficients(stepIndex: number): { cSkip: number; cOut: number; alphaBarNext: number; last: boolean } {
    const i = this.absoluteIndex(stepIndex);
    const last = i === this.fullTimesteps.length - 1;
    const scaled = this.fullTimesteps[i]! * this.config.timestepScaling;
    const denom = scaled * scaled + SIGMA_DATA * SIGMA_DATA;
    const next = last ? this.fullTimesteps[i]! : this.fullTimesteps[i + 1]!;
    return {
      cSkip: (SIGMA_DATA * SIGMA_DATA) / denom,
      cOut: scaled / Math.sqrt(denom),
      alphaBarNext: next >= 0 ? this.alphasCumprod[next]! : this.finalAlphaCumprod,
      last,
    };
  }

  override needsNoise(stepIndex: number): boolean {
    return !this.stepCoefficients(stepIndex).last;
  }

  step<T>(ops: LatentOps<T>, modelOutput: T, stepIndex: number, sample: T, noise?: NoiseSource<T>): T {
    const { cSkip, cOut, alphaBarNext, last } = this.stepCoefficients(stepIndex);
    let p = this.prediction(this.absoluteIndex(stepIndex));
    let clipped: T | undefined;
    if (this.config.clipSample) {
      if (!ops.clamp) throw new UsageError("clip_sample needs a clamp operation, which these latent ops lack");
      const original = ops.combine([
        [p.originalX, sample],
        [p.originalM, modelOutput],
      ]);
      const range = this.config.clipSampleRange;
      clipped = ops.clamp(original, -range, range);
      ops.dispose?.(original);
      p = { ...p, originalX: 0, originalM: 0 };
    }
    // denoised = cOut·x̂₀ + cSkip·x; then re-noise to the next timestep unless this is the last.
    const keep = last ? 1 : Math.sqrt(alphaBarNext);
    const z = last ? undefined : this.drawNoise(noise, stepIndex);
    try {
      return ops.combine([
        [keep * (cOut * p.originalX + cSkip), sample],
        [keep * cOut * p.originalM, modelOutput],
        ...(clipped === undefined ? [] : [[keep * cOut, clipped] as const]),
        ...(z === undefined ? [] : [[Math.sqrt(1 - alphaBarNext), z] as const]),
      ]);
    } finally {
      if (clipped !== undefined) ops.dispose?.(clipped);
      if (z !== undefined) ops.dispose?.(z);
    }
  }
}
