/**
 * DiffSynth's receptive field and schedules, as pure functions (shared/specs/diffsynth.md §6–7):
 * which frames a frame attends over (`combine_pattern`), and at which steps the in-loop smoother runs.
 */
import { UsageError } from "../../errors.ts";

/** An int = a frame offset (clamped to the clip); `reference_k` = the k-th reference image. */
export type PatternEntry = number | `reference_${number}`;

/** Where one attended image comes from. */
export type PatternSource = { kind: "frame"; index: number } | { kind: "reference"; index: number };

/**
 * Checks and normalises a pattern: integer offsets or "reference_k" (k < references); numbers
 * written as strings ("-1", from a flag) become numbers. It must contain 0, the frame itself —
 * the reference crashes without it; we say so.
 */
export function parsePattern(raw: readonly (string | number)[], references: number): PatternEntry[] {
  if (raw.length === 0) throw new UsageError("combine_pattern is empty: it must contain 0 (the frame itself)");
  const out = raw.map((e): PatternEntry => {
    if (typeof e === "number" || /^[+-]?\d+$/.test(e.trim())) {
      const n = Number(e);
      if (!Number.isSafeInteger(n)) throw new UsageError(`combine_pattern entry ${e} is not an integer offset`);
      return n;
    }
    const m = /^reference_(\d+)$/.exec(e.trim());
    if (!m) throw new UsageError(`combine_pattern entry "${e}" is neither a frame offset nor reference_k`);
    const k = Number(m[1]);
    if (k >= references) {
      throw new UsageError(`combine_pattern names reference_${k} but ${references} reference image${references === 1 ? " is" : "s are"} given`, "add it to frames_reference");
    }
    return `reference_${k}`;
  });
  if (!out.includes(0)) throw new UsageError(`combine_pattern [${raw.join(", ")}] lacks 0, the frame itself`);
  return out;
}

/** The images frame `i` of `n` attends over, in pattern order (offsets clamped to 0…n−1; duplicates kept, as the reference does). */
export function combineSources(i: number, n: number, pattern: readonly PatternEntry[]): PatternSource[] {
  return pattern.map((e) =>
    typeof e === "number" ? { kind: "frame", index: Math.min(Math.max(i + e, 0), n - 1) } : { kind: "reference", index: Number(e.slice(10)) },
  );
}

/**
 * The images frame `i` of a chunk of `n` frames starting at clip index `start` attends over, as
 * cache ids: `f<j>` a frame of this chunk, `r<k>` a reference, `a` the clip's first frame and `c`
 * the previous chunk's last frame, both carried from earlier chunks. Offsets clamp to the clip
 * (below 0 → frame 0) and, ahead, to the chunk's last frame (later frames are not read yet); a frame
 * before the chunk is the anchor when it is frame 0, else the nearest carried one. Without carried
 * frames everything clamps to the chunk.
 */
export function chunkSourceIds(
  i: number,
  n: number,
  start: number,
  pattern: readonly PatternEntry[],
  carried: { anchor: boolean; last: boolean } = { anchor: false, last: false },
): string[] {
  return pattern.map((e) => {
    if (typeof e !== "number") return `r${e.slice(10)}`;
    const g = Math.max(start + i + e, 0);
    if (g >= start) return `f${Math.min(g - start, n - 1)}`;
    if (g === 0 && carried.anchor) return "a";
    if (carried.last) return "c";
    return "f0";
  });
}

/** Whether the pattern attends over anything but the frame itself (else cross-frame attention is plain attention). */
export function crossesFrames(pattern: readonly PatternEntry[]): boolean {
  return pattern.some((e) => e !== 0);
}

/** Step indices (of `total`) at which the in-loop smoother runs: s < total − ignore and s % interval = 0. */
export function smootherSteps(total: number, interval: number, ignore: number): number[] {
  const steps: number[] = [];
  for (let s = 0; s < total - ignore; s++) if (s % interval === 0) steps.push(s);
  return steps;
}
