/**
 * When a blend site is on and how much of the past it keeps, per denoising step.
 * Ref: shared/specs/attention-interpolation.md §4 and §7.
 *
 * The reference updates a stateful `ema` after every call; written out, the weight used at step i
 * is f(k) with k = max(0, i − 1 − const − start), so here it is a pure function of the step index
 * (the scheduler's, never a call counter: img2img runs fewer steps and must not wrap).
 */
import { UsageError } from "../errors.ts";

export const INTERPOLATION_SCHEDULERS = ["ema", "cos", "linear"] as const;
export type InterpolationScheduler = (typeof INTERPOLATION_SCHEDULERS)[number];

export interface BlendSchedule {
  /** Weight of the PAST at the first blended step (0 = current frame only, 1 = frozen to frame 0). */
  ema: number;
  /** Per-step decay for the `ema` scheduler (ignored by cos and linear). */
  eta: number;
  /** Blending happens at steps i with start < i < end (strict on both sides). */
  start: number;
  /** null = the number of steps run. */
  end: number | null;
  /** Steps after `start` that keep the starting weight before the decay begins. */
  constSteps: number;
  scheduler: InterpolationScheduler;
}

export const DEFAULT_PIPE_SCHEDULE: BlendSchedule = { ema: 0.35, eta: 0.75, start: 0, end: null, constSteps: 0, scheduler: "ema" };
export const DEFAULT_UNET_SCHEDULE: BlendSchedule = { ema: 0.625, eta: 0.875, start: 0, end: null, constSteps: 0, scheduler: "ema" };

/** Throws a UsageError naming `what`'s bad field. */
export function checkSchedule(s: BlendSchedule, what: string): void {
  const bad = (field: string, v: unknown, want: string) => new UsageError(`${what} ${field} ${v} is invalid: expected ${want}`);
  if (!(s.ema >= 0 && s.ema <= 1)) throw bad("ema", s.ema, "a number in [0, 1]");
  if (!(s.eta >= 0 && s.eta <= 1)) throw bad("eta", s.eta, "a number in [0, 1]");
  if (!Number.isInteger(s.start) || s.start < 0) throw bad("start", s.start, "an integer ≥ 0");
  if (s.end !== null && (!Number.isInteger(s.end) || s.end < 0)) throw bad("end", s.end, "an integer ≥ 0 or null");
  if (!Number.isInteger(s.constSteps) || s.constSteps < 0) throw bad("const", s.constSteps, "an integer ≥ 0");
  if (!INTERPOLATION_SCHEDULERS.includes(s.scheduler)) throw bad("scheduler", s.scheduler, INTERPOLATION_SCHEDULERS.join(" | "));
}

/** Whether step `i` of a `total`-step run is blended: start < i < end. */
export function blendsAt(s: BlendSchedule, i: number, total: number): boolean {
  return s.start < i && i < (s.end ?? total);
}

/**
 * The weight of the past at step `i` of a `total`-step run (meaningful where blendsAt is true).
 * N′ = total − const − start; k = max(0, i − 1 − const − start):
 *   ema: ema0·η^k   linear: ema0·(1 − k/(N′−1))   cos: ema0·(1 + cos(πk/(N′−1)))/2
 */
export function emaAt(s: BlendSchedule, i: number, total: number): number {
  const k = Math.max(0, i - 1 - s.constSteps - s.start);
  // The reference's linear scheduler divides by ema0 and multiplies back: NaN at ema0 = 0. We don't.
  if (s.ema === 0) return 0;
  const span = total - s.constSteps - s.start - 1;
  switch (s.scheduler) {
    case "ema":
      return s.ema * s.eta ** k;
    case "linear":
      return span <= 0 ? s.ema : Math.max(0, s.ema * (1 - k / span));
    case "cos":
      return span <= 0 ? s.ema : s.ema * (1 + Math.cos((Math.PI * Math.min(k, span)) / span)) / 2;
  }
}

/** The weights of every step of a run; 0 where the step is not blended (for logs and tests). */
export function scheduleTable(s: BlendSchedule, total: number): number[] {
  return Array.from({ length: total }, (_, i) => (blendsAt(s, i, total) ? emaAt(s, i, total) : 0));
}
