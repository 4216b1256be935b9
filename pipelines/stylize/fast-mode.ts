/**
 * FastBlend's `fast` schedule (shared/specs/patch-match.md, E) in one streaming pass: a window
 * mean of 2w + 1 frames from O(log w) remaps a frame instead of 2w.
 *
 * Left half. Frame j whose low ℓ bits are all 1 keeps B_j[ℓ] = the mean of the aligned block
 * [j − 2^ℓ + 1, j] warped to j, built when j arrives: B_j[ℓ] = (B_j[ℓ−1] + mean of remap(S_i → j) over
 * the block's left half) / 2, B_j[0] = S_j (every frame of a block warped once, straight to j).
 * Left_t, the mean of [max(t − w, 0), t] warped to t, splits that range from t downwards into the
 * largest such blocks: B_t[ℓ] itself, and remap(B_node[ℓ] → t) for the others (the blend is the
 * source style of the match), weighted by block size.
 *
 * Right half, mirrored: frame j with its low ℓ bits all 0 keeps C_j[ℓ] for [j, j + 2^ℓ − 1] warped to
 * j, built when the block's last frame arrives; Right_t splits [t, min(t + w, n − 1)] from t upwards.
 * FastBlend runs the left pass again on the reversed clip, which needs its end; aligning the right
 * blocks from the start instead needs only w frames of the future, so frame t leaves when t + w
 * arrives and memory is bounded by the window, not the video.
 *
 * Merge: out_t = (c_L·Left_t + c_R·Right_t − S_t) / (c_L + c_R − 1) (S_t is counted in both halves).
 * Blocks are at most 2^⌊log2(w+1)⌋ frames long, so everything a query needs is within w of t.
 */
import { axpbypcz } from "../runtime/blend-ops.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { type DeviceFrame, hold, imageBytes, type ModeContext, type RemapJob, remapPairs, RunningMean } from "./pairs.ts";
import { frameBytes, windowTooLarge } from "./window-modes.ts";

interface Slot {
  frame: DeviceFrame;
  /** left[ℓ−1] = B_j[ℓ], right[ℓ−1] = C_j[ℓ]. */
  left: Tensor[];
  right: Tensor[];
  leftResult?: Tensor;
}

/** Largest block level (2^cap ≤ w + 1). */
export const blockCap = (window: number) => Math.floor(Math.log2(window + 1));

/** [lo, hi] split into aligned blocks: from hi downwards (left) or lo upwards (right). */
export function splitRange(lo: number, hi: number, cap: number, side: "left" | "right"): { node: number; level: number }[] {
  const parts: { node: number; level: number }[] = [];
  if (side === "left") {
    for (let node = hi; node >= lo; ) {
      let l = 0;
      while (l < cap && (node + 1) % 2 ** (l + 1) === 0 && node - 2 ** (l + 1) + 1 >= lo) l++;
      parts.push({ node, level: l });
      node -= 2 ** l;
    }
  } else {
    for (let node = lo; node <= hi; ) {
      let l = 0;
      while (l < cap && node % 2 ** (l + 1) === 0 && node + 2 ** (l + 1) - 1 <= hi) l++;
      parts.push({ node, level: l });
      node += 2 ** l;
    }
  }
  return parts;
}

export async function* fastMode(frames: AsyncIterable<DeviceFrame>, c: ModeContext): AsyncGenerator<Tensor, void, undefined> {
  const w = c.window;
  const cap = blockCap(w);
  const slots = new Map<number, Slot>();
  const slot = (j: number) => slots.get(j)!;
  let image = 0; // bytes of one image, known at the first frame
  const table = (j: number, level: number, side: "left" | "right") =>
    level === 0 ? slot(j).frame.style : slot(j)[side][level - 1]!;
  const job = (i: number, style: Tensor, target: number): RemapJob => ({
    sourceGuide: slot(i).frame.guide,
    sourceStyle: style,
    targetGuide: slot(target).frame.guide,
  });
  const keep = (j: number, side: "left" | "right", t: Tensor) => {
    slot(j)[side].push(t);
    hold(c, image);
  };

  /** Tables completed by frame m, and the left half for t = m (both need only frames ≤ m). */
  const arrive = (m: number) => {
    const jobs: RemapJob[] = [];
    const levels: number[] = [];
    for (let l = 1; l <= cap && (m + 1) % 2 ** l === 0; l++) {
      levels.push(l);
      for (let i = m - 2 ** l + 1; i <= m - 2 ** (l - 1); i++) jobs.push(job(i, slot(i).frame.style, m));
      const j = m - 2 ** l + 1;
      for (let i = j + 2 ** (l - 1); i <= m; i++) jobs.push(job(i, slot(i).frame.style, j));
    }
    const lo = Math.max(0, m - w);
    const parts = splitRange(lo, m, cap, "left");
    const queried = parts.filter((p) => p.node !== m);
    // the query's remaps read B_node of earlier frames only, so they share the build's batches
    const results = remapPairs(
      c.matcher,
      [...jobs, ...queried.map((p) => job(p.node, table(p.node, p.level, "left"), m))],
      { batch: c.batch, stats: c.stats },
    );
    let k = 0;
    try {
      for (const l of levels) {
        const half = 2 ** (l - 1);
        for (const [side, j] of [["left", m], ["right", m - 2 ** l + 1]] as const) {
          using mean = new RunningMean();
          for (let q = 0; q < half; q++) mean.add(results[k++]!);
          using a = mean.take();
          using blend = new RunningMean();
          blend.add(table(j, l - 1, side));
          blend.add(a);
          keep(j, side, blend.take());
        }
      }
      using left = new RunningMean();
      for (const p of parts) left.add(p.node === m ? table(m, p.level, "left") : results[k++]!, 2 ** p.level);
      slot(m).leftResult = left.take();
      hold(c, image);
    } finally {
      for (const r of results) r.dispose();
    }
  };

  /** out_t once every frame up to `last` = min(t + w, n − 1) is in. */
  const finish = (t: number, last: number): Tensor => {
    const parts = splitRange(t, last, cap, "right");
    const queried = parts.filter((p) => p.node !== t);
    const results = remapPairs(c.matcher, queried.map((p) => job(p.node, table(p.node, p.level, "right"), t)), { batch: c.batch, stats: c.stats });
    try {
      using right = new RunningMean();
      let k = 0;
      for (const p of parts) right.add(p.node === t ? table(t, p.level, "right") : results[k++]!, 2 ** p.level);
      using r = right.take();
      const cl = t - Math.max(0, t - w) + 1, cr = last - t + 1, d = cl + cr - 1;
      return axpbypcz(cl / d, slot(t).leftResult!, cr / d, r, -1 / d, slot(t).frame.style);
    } finally {
      for (const x of results) x.dispose();
    }
  };

  const evict = (t: number) => {
    const s = slots.get(t);
    if (!s) return;
    slots.delete(t);
    for (const x of [...s.left, ...s.right, ...(s.leftResult ? [s.leftResult] : [])]) {
      x.dispose();
      hold(c, -image);
    }
    hold(c, -frameBytes(s.frame));
    s.frame[Symbol.dispose]();
  };

  let n = 0;
  try {
    for await (const f of frames) {
      const m = f.index;
      const [, h, wd] = f.style.shape as number[];
      image = imageBytes(h!, wd!);
      slots.set(m, { frame: f, left: [], right: [] });
      hold(c, frameBytes(f));
      n++;
      arrive(m);
      if (m - w >= 0) {
        const out = finish(m - w, m);
        evict(m - w);
        yield out;
      }
    }
    if (n <= w) throw windowTooLarge(w, n);
    for (let t = Math.max(0, n - w); t < n; t++) {
      const out = finish(t, n - 1);
      evict(t);
      yield out;
    }
  } finally {
    for (const t of [...slots.keys()]) evict(t);
  }
}
