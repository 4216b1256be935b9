/**
 * The one scheduler interface, and the bookkeeping all kinds share (training table, the timestep
 * and sigma lists, img2img start index, step-index checks, add-noise).
 *
 * Schedulers are pure in the stable-diffusion.cpp sense: they never see the UNet or own an RNG.
 * A caller runs: setTimesteps → for each stepIndex: m = denoise(scaleModelInput(x), timesteps[i]) →
 * x = step(ops, m, i, x, noise). Steps are addressed by INDEX into `timesteps` (the remaining
 * steps after img2img strength), so repeated timestep values are harmless.
 */
import { UsageError } from "../../errors.ts";
import type { LatentOps } from "./latent-ops.ts";
import {
  alphaBarFromSigma,
  cumulativeAlphas,
  interpolateSigma,
  makeBetas,
  trainingSigmas,
} from "./noise-schedule.ts";
import { predictionCoefficients, type PredictionCoefficients } from "./prediction.ts";
import type { PredictionType, ResolvedSchedulerConfig, SchedulerKind } from "./scheduler-config.ts";

/** Supplies a fresh standard-normal tensor each call; the scheduler disposes it after use. */
export type NoiseSource<T> = () => T;

export interface SetTimestepsOptions {
  /** img2img strength in (0, 1]: the fraction of the schedule that is run (default 1). */
  strength?: number;
}

export interface Scheduler {
  readonly kind: SchedulerKind;
  readonly config: Readonly<ResolvedSchedulerConfig>;
  readonly predictionType: PredictionType;
  /** ᾱ_t for t = 0…T−1 (training table). */
  readonly alphasCumprod: Float64Array;
  /** Timesteps the UNet receives, one per remaining step (floats for Euler). */
  readonly timesteps: readonly number[];
  /** VE noise level σ of the latent entering each remaining step, plus the level after the last. */
  readonly sigmas: readonly number[];
  /** Multiply unit noise by this for txt2img (not for img2img, whose start comes from addNoise). */
  readonly initNoiseSigma: number;
  /** Builds the schedule; resets multistep history. */
  setTimesteps(steps: number, options?: SetTimestepsOptions): { timesteps: number[] };
  /** The scale scaleModelInput applies at this step (1 except for the Euler family). */
  modelInputScale(stepIndex: number): number;
  /** The UNet input for this step, as a new tensor. */
  scaleModelInput<T>(ops: LatentOps<T>, sample: T, stepIndex: number): T;
  /** Whether step(stepIndex) draws noise (ancestral, DDIM η > 0, LCM before the last step). */
  needsNoise(stepIndex: number): boolean;
  /** The latent after this step, as a new tensor (inputs are neither modified nor freed). */
  step<T>(ops: LatentOps<T>, modelOutput: T, stepIndex: number, sample: T, noise?: NoiseSource<T>): T;
  /** The model's predicted clean latent x̂₀ at this step, as a new tensor. */
  predictOriginal<T>(ops: LatentOps<T>, modelOutput: T, stepIndex: number, sample: T): T;
  /** x_t = signal·x₀ + noise·z for this timestep (first match in the schedule, else the training table). */
  noiseCoefficients(timestep: number): { signal: number; noise: number };
  /** signal·original + noise·noiseTensor, as a new tensor. */
  addNoise<T>(ops: LatentOps<T>, original: T, noise: T, timestep: number): T;
  /** Drops multistep history (DPM++), disposing the tensor it kept; setTimesteps does this too. */
  reset(): void;
}

export abstract class SchedulerBase implements Scheduler {
  readonly predictionType: PredictionType;
  readonly alphasCumprod: Float64Array;
  protected readonly trainSigmas: Float64Array;
  protected readonly finalAlphaCumprod: number;
  /** Whole schedule for `numSteps` (img2img skips the first `startIndex`). */
  protected fullTimesteps: number[] = [];
  protected fullSigmas: number[] = [];
  protected startIndex = 0;
  protected numSteps = 0;
  protected noiseSigmaAtStart = 1;
  /** Euler keeps the latent in σ-space (x₀ + σε); the others in VP space (√ᾱ·x₀ + √(1−ᾱ)·ε). */
  protected abstract readonly varianceExploding: boolean;
  abstract readonly kind: SchedulerKind;

  constructor(readonly config: Readonly<ResolvedSchedulerConfig>) {
    this.predictionType = config.predictionType;
    const betas =
      config.trainedBetas ??
      makeBetas(config.betaSchedule, config.betaStart, config.betaEnd, config.numTrainTimesteps);
    this.alphasCumprod = cumulativeAlphas(betas);
    this.trainSigmas = trainingSigmas(this.alphasCumprod);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
  }

  private remainingTimesteps: readonly number[] = [];
  private remainingSigmas: readonly number[] = [];

  get initNoiseSigma(): number {
    return this.noiseSigmaAtStart;
  }

  get timesteps(): readonly number[] {
    return this.remainingTimesteps;
  }

  get sigmas(): readonly number[] {
    return this.remainingSigmas;
  }

  setTimesteps(steps: number, options: SetTimestepsOptions = {}): { timesteps: number[] } {
    const trainSteps = this.config.numTrainTimesteps;
    if (!Number.isInteger(steps) || steps < 1 || steps > trainSteps) {
      throw new UsageError(`steps must be an integer in [1, ${trainSteps}], got ${steps}`);
    }
    const strength = options.strength ?? 1;
    if (!(strength > 0 && strength <= 1)) {
      throw new UsageError(`strength must be in (0, 1], got ${strength}`);
    }
    this.reset();
    this.numSteps = steps;
    try {
      this.buildSchedule(steps, strength);
      if (this.fullTimesteps.length - this.startIndex < 1) {
        const least = Math.ceil(1000 / steps) / 1000;
        throw new UsageError(
          `strength ${strength} with ${steps} steps leaves no denoising step; use strength ≥ ${least} or more steps`,
        );
      }
    } catch (error) {
      this.fullTimesteps = [];
      this.fullSigmas = [];
      this.startIndex = 0;
      throw error;
    } finally {
      this.remainingTimesteps = Object.freeze(this.fullTimesteps.slice(this.startIndex));
      this.remainingSigmas = Object.freeze(this.fullSigmas.slice(this.startIndex));
    }
    return { timesteps: [...this.timesteps] };
  }

  /** Fills fullTimesteps, fullSigmas (length + 1), startIndex and (if not 1) noiseSigmaAtStart. */
  protected abstract buildSchedule(steps: number, strength: number): void;

  abstract step<T>(ops: LatentOps<T>, modelOutput: T, stepIndex: number, sample: T, noise?: NoiseSource<T>): T;

  modelInputScale(stepIndex: number): number {
    this.absoluteIndex(stepIndex);
    return 1;
  }

  scaleModelInput<T>(ops: LatentOps<T>, sample: T, stepIndex: number): T {
    return ops.combine([[this.modelInputScale(stepIndex), sample]]);
  }

  needsNoise(stepIndex: number): boolean {
    this.absoluteIndex(stepIndex);
    return false;
  }

  predictOriginal<T>(ops: LatentOps<T>, modelOutput: T, stepIndex: number, sample: T): T {
    const p = this.prediction(this.absoluteIndex(stepIndex));
    return ops.combine([
      [p.originalX, sample],
      [p.originalM, modelOutput],
    ]);
  }

  noiseCoefficients(timestep: number): { signal: number; noise: number } {
    const found = this.fullTimesteps.indexOf(timestep);
    const sigma =
      found >= 0 ? this.fullSigmas[found]! : interpolateSigma(this.trainSigmas, timestep);
    if (this.varianceExploding) return { signal: 1, noise: sigma };
    const alphaBar = alphaBarFromSigma(sigma);
    return { signal: Math.sqrt(alphaBar), noise: Math.sqrt(1 - alphaBar) };
  }

  addNoise<T>(ops: LatentOps<T>, original: T, noise: T, timestep: number): T {
    const c = this.noiseCoefficients(timestep);
    return ops.combine([
      [c.signal, original],
      [c.noise, noise],
    ]);
  }

  reset(): void {}

  /** x̂₀/ε̂ coefficients on (x, m) at a schedule position, in this scheduler's latent space. */
  protected prediction(absIndex: number): PredictionCoefficients {
    const sigma = this.fullSigmas[absIndex]!;
    const p = predictionCoefficients(this.predictionType, alphaBarFromSigma(sigma));
    if (!this.varianceExploding) return p;
    // σ-space latent x = x_vp·√(1+σ²): a coefficient on x_vp becomes one on x divided by √(1+σ²).
    const toVp = 1 / Math.sqrt(1 + sigma * sigma);
    return { ...p, originalX: p.originalX * toVp, epsilonX: p.epsilonX * toVp };
  }

  /** Position in the whole schedule of a step index into `timesteps`. */
  protected absoluteIndex(stepIndex: number): number {
    const remaining = this.fullTimesteps.length - this.startIndex;
    if (remaining === 0) throw new RangeError("call setTimesteps before stepping the scheduler");
    if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= remaining) {
      throw new RangeError(`step index ${stepIndex} is outside [0, ${remaining - 1}]`);
    }
    return this.startIndex + stepIndex;
  }

  /** Calls the noise source, with a clear error when the caller gave none. */
  protected drawNoise<T>(noise: NoiseSource<T> | undefined, stepIndex: number): T {
    if (!noise) {
      throw new UsageError(`${this.kind} step ${stepIndex} needs noise; pass a noise source to step()`);
    }
    return noise();
  }
}
