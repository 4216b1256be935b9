/**
 * The pure arithmetic of latent blending: where branches are injected and how many, how strongly a
 * child is pulled toward its parents (crossfeed), and how guidance is damped mid-transition.
 * Ref: shared/specs/latent-blending.md §A3, §B1–B3, §C1/C4, §D.
 *
 * The reference is Python, whose round() goes half to even (so does numpy's); `roundHalfEven`
 * keeps our schedules equal to its for every example in the spec.
 */
import { UsageError } from "../errors.ts";

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy.linspace(a, b, count) (endpoint included). */
export function linspace(a: number, b: number, count: number): number[] {
  if (count <= 0) return [];
  if (count === 1) return [a];
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? b : a + ((b - a) * i) / (count - 1)));
}

// ---------------------------------------------------------------------------------------------
// V1 fixed block tree (§B)

export interface FixedBranching {
  steps: number;
  /** Block t covers steps [injection[t], injection[t+1]); injection[0] = 0 is the keyframes' block. */
  injection: number[];
  /** Images in block t (fractions linspace(0, 1, branches[t])); branches[0] = 2. */
  branches: number[];
}

export const QUALITY_PRESETS = {
  lowest: { steps: 12, finalBranches: 5 },
  low: { steps: 15, finalBranches: 6 },
  medium: { steps: 30, finalBranches: 12 },
  high: { steps: 60, finalBranches: 25 },
  ultra: { steps: 100, finalBranches: 50 },
} as const;

export type Quality = keyof typeof QUALITY_PRESETS;
export const QUALITIES = Object.keys(QUALITY_PRESETS) as [Quality, ...Quality[]];

/** The preset's step count and final branch count, laid out by `autosetupBranching`. */
export function loadBranchingProfile(quality: Quality, depthStrength: number): FixedBranching {
  const preset = QUALITY_PRESETS[quality];
  if (!preset) throw new UsageError(`unknown quality "${quality}": expected one of ${QUALITIES.join(", ")}`);
  return autosetupBranching(depthStrength, preset.steps, preset.finalBranches);
}

/**
 * Injection steps between round(d·n) and n − 3, branch counts growing geometrically from 2 to
 * `finalBranches`; an entry survives only ≥ 3 steps after the last kept one and with more branches.
 */
export function autosetupBranching(depthStrength: number, steps: number, finalBranches: number, minDistance = 3): FixedBranching {
  checkDepth(depthStrength);
  checkSteps(steps);
  if (!Number.isInteger(finalBranches) || finalBranches < 2) {
    throw new UsageError(`final branch count ${finalBranches} must be an integer of at least 2`);
  }
  const levels = Math.floor(steps / 5) - 1;
  const first = roundHalfEven(steps * depthStrength);
  const candidates = [0, ...linspace(first, steps - 3, levels).map(Math.trunc)];
  const counts = linspace(Math.log10(2), Math.log10(finalBranches), levels + 1).map((e) => roundHalfEven(10 ** e));
  const injection = [0];
  const branches = [2];
  for (let k = 1; k < candidates.length; k++) {
    if (candidates[k]! - injection.at(-1)! >= minDistance && counts[k]! > branches.at(-1)! && candidates[k]! < steps) {
      injection.push(candidates[k]!);
      branches.push(counts[k]!);
    }
  }
  branches[branches.length - 1] = Math.max(finalBranches, branches.at(-1)!);
  if (branches.length === 1) branches[0] = 2;
  return { steps, injection, branches };
}

/** A hand-made tree; injection from indices or from strengths s (index round(s·n)). */
export function setupBranching(
  steps: number,
  branches: readonly number[],
  at: { injectionIdx?: readonly number[]; injectionStrength?: readonly number[] },
): FixedBranching {
  checkSteps(steps);
  if ((at.injectionIdx === undefined) === (at.injectionStrength === undefined)) {
    throw new UsageError("setupBranching takes injection indices or injection strengths, exactly one of them");
  }
  const injection = at.injectionIdx ? [...at.injectionIdx] : at.injectionStrength!.map((s) => roundHalfEven(s * steps));
  const counts = [...branches];
  if (injection.length !== counts.length) {
    throw new UsageError(`branching has ${injection.length} injection steps but ${counts.length} branch counts; give one count per step`);
  }
  if (injection[0] !== 0) {
    injection.unshift(0);
    counts.unshift(2);
  }
  if (counts[0] !== 2) throw new UsageError(`the first block holds the two keyframes, so its branch count must be 2, got ${counts[0]}`);
  for (let t = 1; t < injection.length; t++) {
    const idx = injection[t]!;
    if (!Number.isInteger(idx) || idx <= injection[t - 1]! || idx >= steps) {
      throw new UsageError(`injection steps must be integers rising strictly from 1 to below ${steps}; got [${injection.join(", ")}]`);
    }
    if (!Number.isInteger(counts[t]) || counts[t]! < counts[t - 1]!) {
      throw new UsageError(`branch counts must be integers that never shrink; got [${counts.join(", ")}]`);
    }
  }
  return { steps, injection, branches: counts };
}

// ---------------------------------------------------------------------------------------------
// V3 adaptive tree (§D)

export interface AdaptiveBranching {
  steps: number;
  /** Injection step of each level (≥ 1, rising). */
  injection: number[];
  /** How many children are made at each level. */
  stems: number[];
}

export interface BranchBudget {
  /** Seconds of compute for the whole transition (keyframes included). */
  timeBudget?: number;
  /** Images in all, the two keyframes included. */
  maxBranches?: number;
}

/** Seconds per UNet step and per VAE decode, measured on the first keyframe. */
export interface StepCosts {
  unet: number;
  vae: number;
}

/** Estimated seconds for the keyframes plus every stem of `stems` at `injection`. */
export function estimateSeconds(steps: number, injection: readonly number[], stems: readonly number[], dt: StepCosts): number {
  let unetSteps = 2 * steps;
  let decodes = 2;
  injection.forEach((inj, k) => {
    unetSteps += (steps - inj) * stems[k]!;
    decodes += stems[k]!;
  });
  return unetSteps * dt.unet + decodes * dt.vae;
}

/**
 * Levels at floor(d·n), +⌈n/10⌉, … below n; stems are added one at a time to the first level
 * whose deeper neighbour has as many (else the last) until the branch budget is reached or the
 * next stem would overrun the time budget. Unlike the reference, a stem that would overrun the
 * time budget is not added (the reference adds one too many), and both budgets may be given.
 */
export function timeBasedBranching(depthStrength: number, steps: number, budget: BranchBudget, dt: StepCosts = { unet: 0, vae: 0 }): AdaptiveBranching {
  checkDepth(depthStrength);
  checkSteps(steps);
  const { timeBudget, maxBranches } = budget;
  if (timeBudget === undefined && maxBranches === undefined) throw new UsageError("give a branch budget (max_branches) or a time budget (time_budget)");
  if (maxBranches !== undefined && (!Number.isInteger(maxBranches) || maxBranches < 2)) {
    throw new UsageError(`max_branches ${maxBranches} must be an integer of at least 2 (the two keyframes)`);
  }
  const base = Math.floor(steps * depthStrength);
  checkInjection(base, steps, depthStrength);
  const stride = Math.ceil(steps / 10);
  const injection: number[] = [];
  for (let i = base; i < steps; i += stride) injection.push(i);
  const limit = maxBranches === undefined ? Infinity : maxBranches - 2;
  if (limit <= 0 || injection.length === 0) return { steps, injection: [], stems: [] };
  if (limit <= injection.length + 1) {
    // The reference's first pass already meets the budget: one stem per level, N − 2 levels
    // spread over the same range.
    const spread = linspace(injection[0]!, injection.at(-1)!, limit).map(Math.trunc);
    return { steps, injection: spread, stems: spread.map(() => 1) };
  }
  const stems = injection.map(() => 1);
  const over = (s: number[]) => timeBudget !== undefined && estimateSeconds(steps, injection, s, dt) > timeBudget;
  if (over(stems)) return { steps, injection: [injection[0]!], stems: [1] };
  while (sum(stems) < limit) {
    const next = [...stems];
    let k = next.findIndex((s, i) => i < next.length - 1 && next[i + 1]! >= s);
    if (k < 0) k = next.length - 1;
    next[k]!++;
    if (over(next)) break;
    stems.splice(0, stems.length, ...next);
  }
  return { steps, injection, stems };
}

// ---------------------------------------------------------------------------------------------
// Crossfeed (§C1, §C4) and guidance (§A3)

export interface Crossfeed {
  /** Slerp weight toward the parents' mix at the injection step (0 = off). */
  power: number;
  /** Fraction of all steps over which crossfeed acts. */
  range: number;
  /** Weight at the end of the range, as a fraction of `power`. */
  decay: number;
}

/** Keyframe 2's pull toward keyframe 1: c_i = linspace(P, P·D, m)[i] for i < m = round(n·R). */
export function branch1CrossfeedArray(steps: number, cf: Crossfeed): number[] {
  const m = Math.min(steps, roundHalfEven(steps * cf.range));
  const ramp = linspace(cf.power, cf.power * cf.decay, m);
  return Array.from({ length: steps }, (_, i) => (cf.power > 0 && i < m ? ramp[i]! : 0));
}

/**
 * A child injected at `injection`: P before it (never used), linspace(P, P·D, m − inj) from it to
 * m = round(n·R), then 0.
 */
export function parentalCrossfeedArray(steps: number, injection: number, cf: Crossfeed): number[] {
  const m = Math.min(steps, roundHalfEven(steps * cf.range));
  const ramp = m > injection ? linspace(cf.power, cf.power * cf.decay, m - injection) : [];
  return Array.from({ length: steps }, (_, i) => (i < injection ? cf.power : i < m ? ramp[i - injection]! : 0));
}

/** g(f) = g0 − (g0·(1 − damper) − 1)·(1 − |f − ½|/½): g0 at both ends, g0·damper + 1 midway. */
export function dampedGuidance(g0: number, damper: number, fraction: number): number {
  const middleness = 1 - Math.abs(fraction - 0.5) / 0.5;
  return g0 - (g0 * (1 - damper) - 1) * middleness;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 2) throw new UsageError(`steps ${steps} must be an integer of at least 2`);
}

function checkDepth(d: number): void {
  if (!(d >= 0 && d <= 1)) throw new UsageError(`depth_strength ${d} must be in [0, 1]`);
}

/**
 * Injection at step 0 would start a child from its parents' FINAL latents (M[−1] wraps around in
 * the reference) and let the parent walk run off the ends.
 */
export function checkInjection(index: number, steps: number, depthStrength?: number): void {
  if (Number.isInteger(index) && index >= 1) return;
  const from = depthStrength === undefined ? "" : ` (depth_strength ${depthStrength} × ${steps} steps)`;
  throw new UsageError(
    `injection step ${index}${from} is below 1: in-betweens must branch off after at least one step`,
    `raise depth_strength to at least ${(1 / steps).toFixed(3)}`,
  );
}
