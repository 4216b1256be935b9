/**
 * How smooth the joins are: the mean absolute difference of consecutive frames (rgb bytes, 0–255),
 * kept apart for the pairs that straddle two clips ("join"), the start and the first new frame
 * ("start"), and the pairs inside a clip ("inside"). A join without a jump has a join mean near
 * the inside mean. Only the previous frame is held.
 */
import type { Frame } from "../io/frame.ts";

export type PairKind = "start" | "join" | "inside";

export interface JoinReport {
  readonly start: number | null;
  readonly join: number | null;
  readonly inside: number | null;
  readonly pairs: { readonly start: number; readonly join: number; readonly inside: number };
}

/** Mean |a − b| over every byte of two same-sized frames. */
export function meanAbsDifference(a: Frame, b: Frame): number {
  if (a.data.length !== b.data.length) throw new RangeError(`frames of ${a.width}x${a.height} and ${b.width}x${b.height}`);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return a.data.length ? sum / a.data.length : 0;
}

export class FrameDifferences {
  readonly #sum = { start: 0, join: 0, inside: 0 };
  readonly #count = { start: 0, join: 0, inside: 0 };
  /** Every pair's difference in order, for tests and the log (a number per frame, not a frame). */
  readonly all: { kind: PairKind; value: number }[] = [];

  add(previous: Frame, next: Frame, kind: PairKind): number {
    const value = meanAbsDifference(previous, next);
    this.#sum[kind] += value;
    this.#count[kind]++;
    this.all.push({ kind, value });
    return value;
  }

  report(): JoinReport {
    const mean = (k: PairKind) => (this.#count[k] ? this.#sum[k] / this.#count[k] : null);
    return { start: mean("start"), join: mean("join"), inside: mean("inside"), pairs: { ...this.#count } };
  }
}
