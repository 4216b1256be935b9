/**
 * FastBlend's `interpolate` (shared/specs/patch-match.md, E): keyframes carry their style to the
 * frames between them. Here every k-th frame (0, k, 2k, …) is a key and the style video is read
 * only there; a frame m between keys l < r is
 *   out_m = ((r − m)·remap(K_l, l → m) + (m − l)·remap(K_r, r → m)) / (r − l),
 * the two matches found together, their style term FastBlend's pairwise patch error (how much the
 * two remapped patches disagree). Frames after the last key use that key alone; keys pass through.
 * Frames wait only for the next key: memory is bounded by the interval, not the video.
 */
import { axpby } from "../runtime/blend-ops.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { type DeviceFrame, hold, type ModeContext, type RemapJob, remapPairs } from "./pairs.ts";
import { frameBytes } from "./window-modes.ts";

export async function* interpolateMode(frames: AsyncIterable<DeviceFrame>, c: ModeContext): AsyncGenerator<Tensor, void, undefined> {
  const k = c.keyframeInterval;
  let key: DeviceFrame | undefined;
  const pending: DeviceFrame[] = [];
  const release = (f: DeviceFrame) => {
    hold(c, -frameBytes(f));
    f[Symbol.dispose]();
  };
  const job = (from: DeviceFrame, to: DeviceFrame): RemapJob => ({ sourceGuide: from.guide, sourceStyle: from.style, targetGuide: to.guide });

  try {
    for await (const f of frames) {
      hold(c, frameBytes(f));
      if (f.index % k !== 0) {
        pending.push(f);
        continue;
      }
      if (key) {
        const l = key, r = f;
        const jobs = pending.flatMap((m) => [job(l, m), job(r, m)]);
        // one pending frame at a time through the batches would serialise; all pairs go together
        const results = remapPairs(c.matcher, jobs, { batch: c.batch, scoring: "pairwise", stats: c.stats });
        try {
          for (let p = 0; p < pending.length; p++) {
            const m = pending[p]!.index, span = r.index - l.index;
            yield axpby((r.index - m) / span, results[2 * p]!, (m - l.index) / span, results[2 * p + 1]!);
          }
        } finally {
          for (const x of results) x.dispose();
          for (const m of pending.splice(0)) release(m);
        }
        release(l);
      }
      key = f;
      yield f.style.to(f.style.backend);
    }
    if (key && pending.length) {
      const results = remapPairs(c.matcher, pending.map((m) => job(key!, m)), { batch: c.batch, stats: c.stats });
      try {
        for (const r of results) yield r.to(r.backend);
      } finally {
        for (const x of results) x.dispose();
      }
    }
  } finally {
    for (const m of pending.splice(0)) release(m);
    if (key) release(key);
  }
}
