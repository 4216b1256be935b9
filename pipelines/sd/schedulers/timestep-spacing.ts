/**
 * Inference timestep lists as diffusers builds them (Ref: /work/shared/reference/schedulers.md §2, §8,
 * §9). All lists are descending. numpy rounds half to even, and so do we, because ties occur
 * (e.g. DPM linspace 499.5 → 500, trailing with T/N = 62.5).
 */

export type TimestepSpacing = "leading" | "trailing" | "linspace";

/** numpy.round: nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** numpy.linspace(start, stop, num) (endpoint included). */
function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : start + i * step));
}

/** numpy.arange(start, stop, step) for a negative step. */
function arangeDown(start: number, stop: number, step: number): number[] {
  const length = Math.ceil((stop - start) / step);
  return Array.from({ length }, (_, i) => start + i * step);
}

/**
 * DDIM / Euler family: N timesteps out of T. `leading` adds `stepsOffset`; `linspace` keeps
 * fractional values unless `integer` (DDIM rounds, Euler keeps floats).
 */
export function spacedTimesteps(
  spacing: TimestepSpacing,
  trainSteps: number,
  steps: number,
  stepsOffset: number,
  integer: boolean,
): number[] {
  switch (spacing) {
    case "leading": {
      const ratio = Math.floor(trainSteps / steps);
      return Array.from({ length: steps }, (_, k) => (steps - 1 - k) * ratio + stepsOffset);
    }
    case "trailing":
      return arangeDown(trainSteps, 0, -trainSteps / steps).map((t) => roundHalfEven(t) - 1);
    case "linspace": {
      const values = linspace(0, trainSteps - 1, steps).reverse();
      return integer ? values.map(roundHalfEven) : values;
    }
  }
}

/** DPM-Solver's variants: N + 1 points with the last (t ≈ 0) dropped. */
export function dpmSolverTimesteps(
  spacing: TimestepSpacing,
  trainSteps: number,
  steps: number,
  stepsOffset: number,
): number[] {
  switch (spacing) {
    case "leading": {
      const ratio = Math.floor(trainSteps / (steps + 1));
      return Array.from({ length: steps }, (_, k) => (steps - k) * ratio + stepsOffset);
    }
    case "trailing":
      return arangeDown(trainSteps, 0, -trainSteps / steps).map((t) => roundHalfEven(t) - 1);
    case "linspace":
      return linspace(0, trainSteps - 1, steps + 1)
        .map(roundHalfEven)
        .reverse()
        .slice(0, steps);
  }
}

/**
 * LCM: the distilled grid t = k·i − 1 (k = T // originalSteps, i = 1…⌊originalSteps·strength⌋),
 * descending, sampled at ⌊linspace(0, len, N, endpoint=False)⌋. Returns null when the grid has
 * fewer than N entries.
 */
export function lcmTimesteps(
  trainSteps: number,
  steps: number,
  originalSteps: number,
  strength: number,
): number[] | null {
  const k = Math.floor(trainSteps / originalSteps);
  const gridLength = Math.floor(originalSteps * strength);
  if (steps > gridLength) return null;
  const grid = Array.from({ length: gridLength }, (_, i) => (gridLength - i) * k - 1);
  const stride = gridLength / steps;
  return Array.from({ length: steps }, (_, i) => grid[Math.floor(i * stride)]!);
}

/**
 * img2img: how many leading steps are skipped (diffusers `get_timesteps`):
 * init = min(⌊N·strength⌋, N), t_start = max(N − init, 0).
 */
export function img2imgStartIndex(steps: number, strength: number): number {
  const init = Math.min(Math.floor(steps * strength), steps);
  return Math.max(steps - init, 0);
}
