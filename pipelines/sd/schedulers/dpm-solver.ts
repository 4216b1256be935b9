/**
 * DPM-Solver++ 2M (Lu et al. 2022, arXiv 2211.01095), as diffusers' DPMSolverMultistepScheduler
 * with algorithm_type "dpmsolver++", solver_order 2; optional Karras sigmas.
 * Ref: /work/shared/reference/schedulers.md §7.
 *
 * The latent is in VP space (x = α·x₀ + σ_vp·ε with α = 1/√(1+σ²), σ_vp = σ/√(1+σ²)). Each step
 * first forms the data prediction D₀ = x̂₀ as its own tensor (one combine), because the next step
 * needs it; then the update is a second combine of (x, D₀, D₋₁).
 */
import type { LatentOps } from "./latent-ops.ts";
import { interpolateSigma, karrasSigmas, sigmaToTimestep } from "./noise-schedule.ts";
import { SchedulerBase, type NoiseSource } from "./scheduler.ts";
import { dpmSolverTimesteps, img2imgStartIndex, roundHalfEven } from "./timestep-spacing.ts";

interface History {
  ops: LatentOps<unknown>;
  original: unknown;
  absIndex: number;
}

/** α and σ_vp of a VE sigma. */
function vp(sigma: number): { alpha: number; sigma: number } {
  const alpha = 1 / Math.sqrt(1 + sigma * sigma);
  return { alpha, sigma: sigma * alpha };
}

export class DpmSolverScheduler extends SchedulerBase {
  readonly kind: "dpm++2m" | "dpm++2m-karras" = this.config.useKarrasSigmas ? "dpm++2m-karras" : "dpm++2m";
  protected readonly varianceExploding = false;
  private history: History | null = null;

  protected buildSchedule(steps: number, strength: number): void {
    const c = this.config;
    let timesteps = dpmSolverTimesteps(c.timestepSpacing, c.numTrainTimesteps, steps, c.stepsOffset);
    let sigmas: number[];
    if (c.useKarrasSigmas) {
      // diffusers spaces Karras sigmas over the whole training range, then rounds t.
      const all = this.trainSigmas;
      sigmas = karrasSigmas(c.sigmaMin ?? all[0]!, c.sigmaMax ?? all.at(-1)!, steps);
      const logSigmas = Array.from(all, Math.log);
      timesteps = sigmas.map((s) => roundHalfEven(sigmaToTimestep(logSigmas, s)));
    } else {
      sigmas = timesteps.map((t) => interpolateSigma(this.trainSigmas, t));
    }
    sigmas.push(c.finalSigmasType === "sigma_min" ? this.trainSigmas[0]! : 0);
    this.fullTimesteps = timesteps;
    this.fullSigmas = sigmas;
    this.startIndex = img2imgStartIndex(steps, strength);
  }

  override reset(): void {
    if (this.history) this.history.ops.dispose?.(this.history.original);
    this.history = null;
  }

  /** Whether this step uses the first-order update (diffusers' lower_order_final rules). */
  usesFirstOrder(stepIndex: number): boolean {
    const i = this.absoluteIndex(stepIndex);
    const n = this.fullTimesteps.length;
    const c = this.config;
    const lowerOrderFinal =
      i === n - 1 && (c.eulerAtFinal || (c.lowerOrderFinal && n < 15) || c.finalSigmasType === "zero");
    return lowerOrderFinal || this.history === null || this.history.absIndex !== i - 1;
  }

  step<T>(ops: LatentOps<T>, modelOutput: T, stepIndex: number, sample: T, _noise?: NoiseSource<T>): T {
    const i = this.absoluteIndex(stepIndex);
    const firstOrder = this.usesFirstOrder(stepIndex);
    const p = this.prediction(i);
    const d0 = ops.combine([
      [p.originalX, sample],
      [p.originalM, modelOutput],
    ]);
    const s0 = vp(this.fullSigmas[i]!);
    const t = vp(this.fullSigmas[i + 1]!);
    // e^{−h} = e^{λ_s0 − λ_t} with λ = log(α/σ_vp), written without logs so σ_t = 0 is exact.
    const expNegH = (t.sigma * s0.alpha) / (s0.sigma * t.alpha);
    const onX = t.sigma / s0.sigma;
    const onD0 = -t.alpha * (expNegH - 1);
    let out: T;
    if (firstOrder) {
      out = ops.combine([
        [onX, sample],
        [onD0, d0],
      ]);
    } else {
      const prev = this.history!;
      const s1 = vp(this.fullSigmas[i - 1]!);
      const lambda = (v: { alpha: number; sigma: number }) => Math.log(v.alpha) - Math.log(v.sigma);
      const h = lambda(t) - lambda(s0);
      const r0 = (lambda(s0) - lambda(s1)) / h;
      // D1 = (D0 − D−1)/r0 enters with weight w.
      const w =
        this.config.solverType === "midpoint"
          ? -0.5 * t.alpha * (expNegH - 1)
          : t.alpha * ((expNegH - 1) / h + 1);
      out = ops.combine([
        [onX, sample],
        [onD0 + w / r0, d0],
        [-w / r0, prev.original as T],
      ]);
    }
    this.reset();
    this.history = { ops: ops as LatentOps<unknown>, original: d0, absIndex: i };
    return out;
  }
}
