/**
 * The sliding-window schedules (shared/specs/patch-match.md, E; shared/specs/diffsynth.md):
 *   balanced: out_t = equal-weight mean of {S_t} ∪ {remap(s → t) : s ∈ [t − w, t + w], s ≠ t}
 *   accurate: out_t = mean of remap(s → t) over the whole window, self included, each batch of
 *             pairs scored against the batch's consensus (the mean of its remaps).
 *   ebsynth:  DiffSynth's EbsynthSmoother: out_t = mean of {S_t} ∪ {remap(t + d → t) : d ∈ offsets,
 *             t + d in the clip}, every pair matched on its own (an offset 0 adds S_t warped onto
 *             itself, as its extra_deflickering_range did).
 * Frame t goes out as soon as frame t + (the largest forward offset) has come in, so the frames
 * held are bounded by the window, not the video.
 */
import { UsageError } from "../errors.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { type DeviceFrame, hold, imageBytes, type ModeContext, remapPairs, RunningMean } from "./pairs.ts";

export function windowTooLarge(window: number, frames: number): UsageError {
  return new UsageError(
    `window ${window} is larger than the clip: ${frames} frame${frames === 1 ? "" : "s"} (a window of w frames each side needs more than w)`,
    `use --window ${Math.max(1, frames - 1)} or less${frames === 1 ? " (a single frame has nothing to blend with)" : ""}`,
  );
}

export const frameBytes = (f: DeviceFrame) => f.guide.byteLength + (f.style === f.guide ? 0 : f.style.byteLength);

export type WindowKind = "balanced" | "accurate" | "ebsynth";

/** The source offsets of a target and whether S_t itself joins the mean. */
export function windowSources(kind: WindowKind, window: number, offsets: readonly number[] | null): { offsets: number[]; self: boolean } {
  const all = Array.from({ length: 2 * window + 1 }, (_, k) => k - window);
  if (kind === "accurate") return { offsets: all, self: false };
  if (kind === "ebsynth" && offsets) return { offsets: [...offsets], self: true };
  return { offsets: all.filter((d) => d !== 0), self: true };
}

export async function* windowMode(
  frames: AsyncIterable<DeviceFrame>,
  c: ModeContext,
  kind: WindowKind,
): AsyncGenerator<Tensor, void, undefined> {
  const { offsets, self } = windowSources(kind, c.window, c.offsets);
  const ahead = Math.max(0, ...offsets);
  const behind = Math.max(0, ...offsets.map((d) => -d));
  const held: DeviceFrame[] = [];
  let n = 0;
  let next = 0;
  const at = (i: number) => held[i - held[0]!.index]!;

  const smoothed = (t: number, last: number): Tensor => {
    const target = at(t);
    const sources = offsets.map((d) => t + d).filter((s) => s >= 0 && s <= last).map(at);
    using mean = new RunningMean();
    if (self) mean.add(target.style);
    const jobs = sources.map((s) => ({ sourceGuide: s.guide, sourceStyle: s.style, targetGuide: target.guide }));
    // accurate mode's consensus is over one target's batch: the jobs of one target go together
    for (const r of remapPairs(c.matcher, jobs, { batch: c.batch, scoring: kind === "accurate" ? "consensus" : "independent", stats: c.stats })) {
      mean.add(r);
      r.dispose();
    }
    return mean.take();
  };
  const dropBefore = (first: number) => {
    while (held.length && held[0]!.index < first) {
      const f = held.shift()!;
      hold(c, -frameBytes(f));
      f[Symbol.dispose]();
    }
  };

  try {
    for await (const f of frames) {
      held.push(f);
      hold(c, frameBytes(f));
      n++;
      // nothing leaves before the clip is known to be longer than the window (else it is an error)
      while (next + ahead < n && n > c.window) {
        const [, h, wd] = f.style.shape as number[];
        hold(c, imageBytes(h!, wd!)); // the mean being built
        const out = smoothed(next, n - 1);
        hold(c, -imageBytes(h!, wd!));
        next++;
        dropBefore(next - behind);
        yield out;
      }
    }
    if (n <= c.window) throw windowTooLarge(c.window, n);
    while (next < n) {
      const out = smoothed(next, n - 1);
      next++;
      dropBefore(next - behind);
      yield out;
    }
  } finally {
    dropBefore(Number.POSITIVE_INFINITY);
  }
}
