/**
 * DDIM (Song et al. 2020, arXiv 2010.02502), as diffusers' DDIMScheduler.
 * Ref: /work/shared/reference/schedulers.md §4.
 */
import type { LatentOps, LinearTerm } from "./latent-ops.ts";
import { img2imgStartIndex, spacedTimesteps } from "./timestep-spacing.ts";
import { sigmaFromAlphaBar } from "./noise-schedule.ts";
import { predictionCoefficients } from "./prediction.ts";
import { SchedulerBase, type NoiseSource } from "./scheduler.ts";
import type { ResolvedSchedulerConfig } from "./scheduler-config.ts";
import { UsageError } from "../../errors.ts";

export class DdimScheduler extends SchedulerBase {
  readonly kind = "ddim" as const;
  protected readonly varianceExploding = false;

  /** η: 0 = deterministic DDIM, 1 = DDPM-like variance (needs noise). */
  constructor(
    config: Readonly<ResolvedSchedulerConfig>,
    readonly eta = 0,
  ) {
    super(config);
    if (!(eta >= 0 && Number.isFinite(eta))) throw new UsageError(`eta must be a number ≥ 0, got ${eta}`);
  }

  protected buildSchedule(steps: number, strength: number): void {
    const c = this.config;
    this.fullTimesteps = spacedTimesteps(c.timestepSpacing, c.numTrainTimesteps, steps, c.stepsOffset, true);
    const sigmas = this.fullTimesteps.map((t) => sigmaFromAlphaBar(this.alphaBarAt(t)));
    sigmas.push(sigmaFromAlphaBar(this.alphaBarAt(this.previousTimestep(this.fullTimesteps.at(-1)!))));
    this.fullSigmas = sigmas;
    this.startIndex = img2imgStartIndex(steps, strength);
  }

  /** diffusers always steps back by T // N, whatever the spacing. */
  private previousTimestep(t: number): number {
    return t - Math.floor(this.config.numTrainTimesteps / this.numSteps);
  }

  private alphaBarAt(t: number): number {
    return t >= 0 ? this.alphasCumprod[t]! : this.finalAlphaCumprod;
  }

  /** The coefficients of one step: ᾱ_t, ᾱ_prev and the noise std η·σ_t. */
  stepCoefficients(stepIndex: number): { alphaBar: number; alphaBarPrev: number; std: number } {
    const t = this.fullTimesteps[this.absoluteIndex(stepIndex)]!;
    const alphaBar = this.alphaBarAt(t);
    const alphaBarPrev = this.alphaBarAt(this.previousTimestep(t));
    const variance = ((1 - alphaBarPrev) / (1 - alphaBar)) * (1 - alphaBar / alphaBarPrev);
    return { alphaBar, alphaBarPrev, std: this.eta * Math.sqrt(Math.max(variance, 0)) };
  }

  override needsNoise(stepIndex: number): boolean {
    return this.stepCoefficients(stepIndex).std > 0;
  }

  step<T>(ops: LatentOps<T>, modelOutput: T, stepIndex: number, sample: T, noise?: NoiseSource<T>): T {
    const { alphaBar, alphaBarPrev, std } = this.stepCoefficients(stepIndex);
    const p = predictionCoefficients(this.predictionType, alphaBar);
    const toOriginal = Math.sqrt(alphaBarPrev);
    const direction = Math.sqrt(Math.max(1 - alphaBarPrev - std * std, 0));
    const z = std > 0 ? this.drawNoise(noise, stepIndex) : undefined;
    const noiseTerms: LinearTerm<T>[] = z === undefined ? [] : [[std, z]];
    try {
      if (!this.config.clipSample) {
        // x_prev = √ᾱ_prev·x̂₀ + √(1 − ᾱ_prev − std²)·ε̂ + std·z, all linear in (x, m).
        return ops.combine([
          [toOriginal * p.originalX + direction * p.epsilonX, sample],
          [toOriginal * p.originalM + direction * p.epsilonM, modelOutput],
          ...noiseTerms,
        ]);
      }
      if (!ops.clamp) throw new UsageError("clip_sample needs a clamp operation, which these latent ops lack");
      const range = this.config.clipSampleRange;
      const original = ops.combine([
        [p.originalX, sample],
        [p.originalM, modelOutput],
      ]);
      const clipped = ops.clamp(original, -range, range);
      ops.dispose?.(original);
      const out = ops.combine([
        [toOriginal, clipped],
        [direction * p.epsilonX, sample],
        [direction * p.epsilonM, modelOutput],
        ...noiseTerms,
      ]);
      ops.dispose?.(clipped);
      return out;
    } finally {
      if (z !== undefined) ops.dispose?.(z);
    }
  }
}
