/**
 * Euler and Euler-ancestral in σ-space (Karras et al. 2022, arXiv 2206.00364; k-diffusion's
 * sample_euler / sample_euler_ancestral), as diffusers' EulerDiscreteScheduler and
 * EulerAncestralDiscreteScheduler. Ref: /work/shared/reference/schedulers.md §5, §6.
 * The latent lives in σ-space (x = x₀ + σ·ε); the UNet sees x/√(σ² + 1).
 */
import type { LatentOps } from "./latent-ops.ts";
import { interpolateSigma, karrasSigmas, sigmaToTimestep } from "./noise-schedule.ts";
import { SchedulerBase, type NoiseSource } from "./scheduler.ts";
import { img2imgStartIndex, spacedTimesteps } from "./timestep-spacing.ts";

export class EulerScheduler extends SchedulerBase {
  readonly kind: "euler" | "euler-a" = "euler";
  protected readonly varianceExploding = true;

  protected buildSchedule(steps: number, strength: number): void {
    const c = this.config;
    let timesteps = spacedTimesteps(c.timestepSpacing, c.numTrainTimesteps, steps, c.stepsOffset, false);
    let sigmas = timesteps.map((t) => interpolateSigma(this.trainSigmas, t));
    if (c.useKarrasSigmas) {
      sigmas = karrasSigmas(c.sigmaMin ?? sigmas.at(-1)!, c.sigmaMax ?? sigmas[0]!, steps);
      const logSigmas = Array.from(this.trainSigmas, Math.log);
      timesteps = sigmas.map((s) => sigmaToTimestep(logSigmas, s));
    }
    const maxSigma = Math.max(...sigmas);
    this.noiseSigmaAtStart =
      c.timestepSpacing === "leading" ? Math.sqrt(maxSigma * maxSigma + 1) : maxSigma;
    sigmas.push(c.finalSigmasType === "sigma_min" && this.kind === "euler" ? this.trainSigmas[0]! : 0);
    this.fullTimesteps = timesteps;
    this.fullSigmas = sigmas;
    this.startIndex = img2imgStartIndex(steps, strength);
  }

  override modelInputScale(stepIndex: number): number {
    const sigma = this.fullSigmas[this.absoluteIndex(stepIndex)]!;
    return 1 / Math.sqrt(sigma * sigma + 1);
  }

  /** [σ_from, σ_to] of a step. */
  protected sigmaPair(stepIndex: number): [number, number] {
    const i = this.absoluteIndex(stepIndex);
    return [this.fullSigmas[i]!, this.fullSigmas[i + 1]!];
  }

  step<T>(ops: LatentOps<T>, modelOutput: T, stepIndex: number, sample: T, _noise?: NoiseSource<T>): T {
    const [sigma, sigmaNext] = this.sigmaPair(stepIndex);
    return this.eulerMove(ops, modelOutput, stepIndex, sample, sigma, sigmaNext, 0, undefined);
  }

  /**
   * x' = x + (x − x̂₀)/σ·(σ_target − σ) + noiseScale·z, i.e. an Euler step of dx/dσ = (x − x̂₀)/σ.
   */
  protected eulerMove<T>(
    ops: LatentOps<T>,
    modelOutput: T,
    stepIndex: number,
    sample: T,
    sigma: number,
    sigmaTarget: number,
    noiseScale: number,
    z: T | undefined,
  ): T {
    const p = this.prediction(this.absoluteIndex(stepIndex));
    const r = (sigmaTarget - sigma) / sigma;
    const out = ops.combine([
      [1 + r - r * p.originalX, sample],
      [-r * p.originalM, modelOutput],
      ...(z === undefined ? [] : [[noiseScale, z] as const]),
    ]);
    if (z !== undefined) ops.dispose?.(z);
    return out;
  }
}

export class EulerAncestralScheduler extends EulerScheduler {
  override readonly kind = "euler-a" as const;

  /** σ_up (fresh noise) and σ_down (deterministic target) of a step. */
  ancestralSigmas(stepIndex: number): { sigmaUp: number; sigmaDown: number } {
    const [from, to] = this.sigmaPair(stepIndex);
    const sigmaUp = Math.sqrt((to * to * (from * from - to * to)) / (from * from));
    return { sigmaUp, sigmaDown: Math.sqrt(Math.max(to * to - sigmaUp * sigmaUp, 0)) };
  }

  override needsNoise(stepIndex: number): boolean {
    return this.ancestralSigmas(stepIndex).sigmaUp > 0;
  }

  override step<T>(ops: LatentOps<T>, modelOutput: T, stepIndex: number, sample: T, noise?: NoiseSource<T>): T {
    const [sigma] = this.sigmaPair(stepIndex);
    const { sigmaUp, sigmaDown } = this.ancestralSigmas(stepIndex);
    const z = sigmaUp > 0 ? this.drawNoise(noise, stepIndex) : undefined;
    return this.eulerMove(ops, modelOutput, stepIndex, sample, sigma, sigmaDown, sigmaUp, z);
  }
}
