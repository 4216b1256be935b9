/**
 * From a handful of diffused images to fps × duration movie frames: the gaps between consecutive
 * diffused images are filled with uint8 pixel crossfades (spec §E2).
 *
 * The reference hands each gap ⌊missing/gaps⌋ or one more at random; here the counts are
 * deterministic: proportional to a weight per gap (the measured image distance, so a big visual
 * jump gets more frames) by largest remainder, ties to the earlier gap. Equal weights give the
 * reference's even split.
 */
import type { Frame } from "../io/frame.ts";

/** In-between counts per gap that add up to `missing`. */
export function allocateInbetweens(weights: readonly number[], missing: number): number[] {
  const gaps = weights.length;
  if (gaps === 0 || missing <= 0) return weights.map(() => 0);
  const clean = weights.map((w) => (Number.isFinite(w) && w > 0 ? w : 0));
  const total = clean.reduce((a, b) => a + b, 0);
  const share = total > 0 ? clean.map((w) => (w / total) * missing) : clean.map(() => missing / gaps);
  const counts = share.map(Math.floor);
  let left = missing - counts.reduce((a, b) => a + b, 0);
  const order = share.map((s, i) => [s - Math.floor(s), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % gaps, left--) counts[order[k]![1]]!++;
  return counts;
}

/** Frame a + t·(b − a), rounded half up per byte. */
export function crossfade(a: Frame, b: Frame, t: number): Frame {
  const out = new Uint8Array(a.data.length);
  for (let i = 0; i < out.length; i++) {
    const x = a.data[i]!;
    out[i] = Math.floor(x + t * (b.data[i]! - x) + 0.5);
  }
  return { width: a.width, height: a.height, data: out };
}

/**
 * The movie frames of one transition: every diffused image in order, each gap filled with
 * `counts[j]` crossfades at linspace(0, 1, k + 2)[1:−1]. `skipFirst` leaves out the first image
 * (a multi-transition join shows its shared keyframe once).
 */
export function* fillGaps(images: readonly Frame[], counts: readonly number[], skipFirst = false): Generator<Frame> {
  if (!skipFirst && images[0]) yield images[0];
  for (let j = 0; j + 1 < images.length; j++) {
    const k = counts[j] ?? 0;
    for (let s = 1; s <= k; s++) yield crossfade(images[j]!, images[j + 1]!, s / (k + 1));
    yield images[j + 1]!;
  }
}

/** Movie frames per transition: round(fps·duration), never fewer than the diffused images. */
export function framesPerTransition(fps: number, duration: number, diffused: number): number {
  return Math.max(diffused, Math.round(fps * duration));
}
