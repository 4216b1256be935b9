/**
 * PNDM in its PLMS form (Liu et al. 2022, arXiv 2202.09778), as diffusers' PNDMScheduler with
 * `skip_prk_steps` — what SD 1.x configs name. Ref: /work/shared/reference/schedulers.md §10.
 *
 * The schedule repeats its second timestep (N + 1 model calls). Each call keeps its ε; the update
 * uses a linear multistep combination of the last four, and the second call averages two ε and
 * restarts from the sample saved at the first. Every update is one `combine` of x and the kept ε.
 * The Runge–Kutta warm-up (`skip_prk_steps: false`) is not implemented: PLMS is used either way.
 *
 * v-models: each call's v is turned into ε at the timestep and latent it was predicted from, and
 * the ε are combined. diffusers combines the raw v of different steps and converts the mix with the
 * current step's ᾱ, which is not the ε of any step; for ε-models both are the same.
 */
import { UsageError } from "../../errors.ts";
import type { LatentOps, LinearTerm } from "./latent-ops.ts";
import { sigmaFromAlphaBar } from "./noise-schedule.ts";
import { SchedulerBase, type NoiseSource } from "./scheduler.ts";
import type { ResolvedSchedulerConfig } from "./scheduler-config.ts";
import { img2imgStartIndex, spacedTimesteps } from "./timestep-spacing.ts";

/** Adams–Bashforth weights for 1…4 stored ε, newest first. */
const MULTISTEP: readonly (readonly number[])[] = [[1], [3 / 2, -1 / 2], [23 / 12, -16 / 12, 5 / 12], [55 / 24, -59 / 24, 37 / 24, -9 / 24]];

export class PndmScheduler extends SchedulerBase {
  readonly kind = "pndm" as const;
  protected readonly varianceExploding = false;
  /** Copies of past model outputs, oldest first (at most 4), owned by the scheduler. */
  private ets: unknown[] = [];
  private savedSample: unknown = null;
  private ops: LatentOps<unknown> | null = null;
  private calls = 0;

  constructor(config: Readonly<ResolvedSchedulerConfig>) {
    super(config);
    if (config.predictionType === "sample") {
      throw new UsageError('the pndm scheduler supports prediction_type epsilon and v_prediction, not "sample"');
    }
  }

  protected buildSchedule(steps: number, strength: number): void {
    const c = this.config;
    const base = spacedTimesteps(c.timestepSpacing, c.numTrainTimesteps, steps, c.stepsOffset, true);
    this.fullTimesteps = base.length > 1 ? [base[0]!, base[1]!, ...base.slice(1)] : base;
    const ratio = this.ratio(steps);
    this.fullSigmas = [...this.fullTimesteps, this.fullTimesteps.at(-1)! - ratio].map((t) => sigmaFromAlphaBar(this.alphaBarAt(t)));
    this.startIndex = img2imgStartIndex(steps, strength);
  }

  /** The model's ε for this call, as a new tensor: m itself, or ε = √ᾱ·v + √(1−ᾱ)·x. */
  private epsilon(o: LatentOps<unknown>, modelOutput: unknown, sample: unknown, t: number): unknown {
    if (this.predictionType !== "v_prediction") return o.combine([[1, modelOutput]]);
    const a = this.alphaBarAt(t);
    return o.combine([
      [Math.sqrt(a), modelOutput],
      [Math.sqrt(1 - a), sample],
    ]);
  }

  private ratio(steps = this.numSteps): number {
    return Math.floor(this.config.numTrainTimesteps / steps);
  }

  private alphaBarAt(t: number): number {
    return t >= 0 ? this.alphasCumprod[t]! : this.finalAlphaCumprod;
  }

  override reset(): void {
    for (const e of this.ets) this.ops?.dispose?.(e);
    if (this.savedSample !== null) this.ops?.dispose?.(this.savedSample);
    this.ets = [];
    this.savedSample = null;
    this.calls = 0;
  }

  step<T>(ops: LatentOps<T>, modelOutput: T, stepIndex: number, sample: T, _noise?: NoiseSource<T>): T {
    const o = ops as LatentOps<unknown>;
    this.ops = o;
    let t = this.fullTimesteps[this.absoluteIndex(stepIndex)]!;
    let prev = t - this.ratio();
    let base: unknown = sample;
    let epsilon: LinearTerm<unknown>[];
    let dropSaved = false;
    const callEpsilon = this.epsilon(o, modelOutput, sample, t);
    if (this.calls === 1) {
      // The repeated timestep: redo the first step from its saved sample with the mean of two ε.
      [prev, t] = [t, t + this.ratio()];
      epsilon = [
        [0.5, callEpsilon],
        [0.5, this.ets.at(-1)],
      ];
      base = this.savedSample ?? sample;
      dropSaved = true;
    } else {
      this.ets.push(callEpsilon);
      if (this.ets.length > 4) {
        const oldest = this.ets.shift(); // outside the call: `dispose?.(…)` skips its argument when absent
        o.dispose?.(oldest);
      }
      const recent = this.ets.slice().reverse();
      epsilon = MULTISTEP[recent.length - 1]!.map((w, k) => [w, recent[k]] as const);
      if (this.calls === 0) this.savedSample = o.combine([[1, sample]]);
    }
    // x_prev = √(ᾱ_prev/ᾱ_t)·x − (ᾱ_prev − ᾱ_t)·ε / (ᾱ_t·√(1−ᾱ_prev) + √(ᾱ_t(1−ᾱ_t)ᾱ_prev))
    const at = this.alphaBarAt(t);
    const ap = this.alphaBarAt(prev);
    const onEpsilon = -(ap - at) / (at * Math.sqrt(1 - ap) + Math.sqrt(at * (1 - at) * ap));
    const out = o.combine([[Math.sqrt(ap / at), base], ...epsilon.map(([w, e]) => [w * onEpsilon, e] as const)]);
    if (dropSaved) {
      o.dispose?.(callEpsilon);
      if (this.savedSample !== null) o.dispose?.(this.savedSample);
      this.savedSample = null;
    }
    this.calls++;
    return out as T;
  }
}
