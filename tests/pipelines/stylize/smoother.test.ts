/**
 * The smoothing schedules against plain-loop references. Over a static guide every match is the
 * identity (its error is 0 and nothing beats it strictly), so each remap carries its source style
 * unchanged and a mode's output is exactly the weighted mean of whole frames its schedule names:
 * the reference below computes those means in float64 from the input bytes.
 */
import { describe, expect, test } from "bun:test";
import { FrameError, UsageError } from "../../../pipelines/errors.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import {
  cleanFrame, Deflicker, flickerClip, meanAbsDiff, PatchMatcher, smootherMemory, type SmoothMode, type SmoothOptions, smoothVideo,
  type StylePair, temporalDiff,
} from "../../../pipelines/stylize/index.ts";
import type { SmootherRun } from "../../../pipelines/stylize/smoother.ts";
import { texture } from "./textures.ts";

const cpu = new CpuBackend();
const W = 32, H = 24;
const guide = texture(W, H);
/** Frame t: the guide's texture under a per-frame gain (a flicker the static guide does not have). */
const styleAt = (t: number) => texture(W, H, { gains: [1 + 0.04 * Math.sin(t * 1.7), 1 - 0.03 * Math.cos(t), 1 + 0.02 * Math.sin(t * 0.5)] });

async function* pairs(n: number, pulled?: { count: number }): AsyncGenerator<StylePair> {
  for (let t = 0; t < n; t++) {
    if (pulled) pulled.count = t + 1;
    yield { style: styleAt(t), guide };
  }
}

/** out_t = Σ w_s S_s / Σ w_s over the (source, weight) list the schedule gives for t. */
function reference(n: number, sources: (t: number) => [number, number][]): Uint8Array[] {
  const frames = Array.from({ length: n }, (_, t) => styleAt(t).data);
  return frames.map((_, t) => {
    const list = sources(t);
    const total = list.reduce((a, [, w]) => a + w, 0);
    const out = new Uint8Array(W * H * 3);
    for (let i = 0; i < out.length; i++) out[i] = Math.round(list.reduce((a, [s, w]) => a + w * frames[s]![i]!, 0) / total);
    return out;
  });
}

async function smooth(n: number, o: Partial<SmoothOptions>, run?: SmootherRun): Promise<Frame[]> {
  using matcher = new PatchMatcher(cpu, { iterations: 2, init: o.mode === "ebsynth" ? "random" : "identity" });
  const out: Frame[] = [];
  for await (const f of smoothVideo(pairs(n), matcher, o, run)) out.push(f);
  return out;
}

function maxByteDiff(a: readonly Frame[], b: readonly Uint8Array[]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  a.forEach((f, t) => f.data.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[t]![i]!)))));
  return m;
}

const window = (n: number, w: number) => (t: number): [number, number][] => {
  const list: [number, number][] = [];
  for (let s = Math.max(0, t - w); s <= Math.min(n - 1, t + w); s++) list.push([s, 1]);
  return list;
};

describe("each mode over a static guide is the mean its schedule names", () => {
  const n = 11;
  for (const [mode, w] of [["balanced", 2], ["accurate", 2], ["fast", 3], ["fast", 6]] as [SmoothMode, number][]) {
    test(`${mode}, window ${w}: the equal-weight mean of frames t−${w} … t+${w} clipped to the clip, within 1/255`, async () => {
      expect(maxByteDiff(await smooth(n, { mode, window: w, batch: 3 }), reference(n, window(n, w)))).toBeLessThanOrEqual(1);
    });
  }

  test("ebsynth with offsets [−2, 1, 3]: S_t and the offsets that fall inside the clip, equal weights", async () => {
    const offsets = [-2, 1, 3];
    const want = reference(n, (t) => [[t, 1], ...offsets.map((d) => t + d).filter((s) => s >= 0 && s < n).map((s): [number, number] => [s, 1])]);
    expect(maxByteDiff(await smooth(n, { mode: "ebsynth", offsets, batch: 2 }), want)).toBeLessThanOrEqual(1);
  });

  test("interpolate, keys every 4th frame: linear between the two keys, the last key alone after it", async () => {
    const k = 4;
    const want = reference(n, (t) => {
      const l = t - (t % k), r = l + k;
      if (t % k === 0 || r >= n) return [[l, 1]];
      return [[l, r - t], [r, t - l]];
    });
    expect(maxByteDiff(await smooth(n, { mode: "interpolate", keyframeInterval: k, batch: 4 }), want)).toBeLessThanOrEqual(1);
  });
});

describe("streaming", () => {
  for (const [mode, w] of [["fast", 3], ["balanced", 3]] as [SmoothMode, number][]) {
    test(`${mode}: frame t leaves once frame t + ${w} is in, and the memory held does not grow with the video`, async () => {
      const leftAt: number[] = [];
      const peaks: number[] = [];
      for (const n of [10, 30]) {
        const pulled = { count: 0 };
        const run: SmootherRun = { stats: { remaps: 0, batches: 0 }, held: { bytes: 0, peak: 0 }, frames: 0 };
        using matcher = new PatchMatcher(cpu, { iterations: 1 });
        for await (const _ of smoothVideo(pairs(n, pulled), matcher, { mode, window: w }, run)) if (n === 30) leftAt.push(pulled.count);
        peaks.push(run.held.peak);
        expect(run.held.bytes).toBe(0);
        const bound = smootherMemory({ ...SMOOTH, mode, window: w }, { width: W, height: H }, matcher.options, true);
        expect(run.held.peak).toBeLessThanOrEqual(bound.bytes - bound.matcher);
      }
      expect(peaks[1]).toBe(peaks[0]!);
      // frames pulled when output t left: t + w + 1 until the source ends
      expect(leftAt.slice(0, 30 - w)).toEqual(Array.from({ length: 30 - w }, (_, t) => t + w + 1));
    });
  }
});
const SMOOTH = { offsets: null, batch: 8, keyframeInterval: 10 };

describe("deflicker on the flickering clip", () => {
  test("fast mode lowers the frame-to-frame difference at least 2× and brings the frames closer to the clean clip", async () => {
    const frames = 16;
    using job = Deflicker.open({ mode: "fast", window: 4 });
    const input: Frame[] = [];
    for await (const f of flickerClip({ frames })) input.push(f);
    const out: Frame[] = [];
    for await (const f of job.frames((async function* () { yield* input; })())) out.push(f);
    const clean = Array.from({ length: frames }, (_, t) => cleanFrame(t));
    const error = (v: Frame[]) => v.reduce((a, f, t) => a + meanAbsDiff(f, clean[t]!), 0) / frames;
    const flickerDrop = temporalDiff(input) / temporalDiff(out);
    expect(flickerDrop).toBeGreaterThan(2);
    expect(error(out)).toBeLessThan(error(input));
  });
});

describe("bad input", () => {
  test("a window as long as the clip is one UsageError naming both, before anything is written", async () => {
    const run = smooth(4, { mode: "balanced", window: 4 });
    await expect(run).rejects.toThrow(UsageError);
    await expect(run).rejects.toThrow("window 4 is larger than the clip: 4 frames");
    await expect(smooth(4, { mode: "fast", window: 5 })).rejects.toThrow("window 5 is larger than the clip");
  });

  test("a zero-frame stream is a FrameError", async () => {
    await expect(smooth(0, { mode: "fast" })).rejects.toThrow(new FrameError("the video holds no frames"));
  });

  test("a guide of another size or length is one clear error", async () => {
    using job = Deflicker.open({ window: 1 });
    const video = async function* (n: number, w = W) {
      for (let t = 0; t < n; t++) yield texture(w, H);
    };
    const drain = async (it: AsyncIterable<Frame>) => {
      for await (const _ of it);
    };
    await expect(drain(job.frames(video(3), video(3, W + 8)))).rejects.toThrow(`guide frame 0 is ${W + 8}x${H} but the video is ${W}x${H}`);
    await expect(drain(job.frames(video(3), video(2)))).rejects.toThrow("the guide ended after 2 frames but the video goes on");
    await expect(drain(job.frames(video(3), video(4)))).rejects.toThrow("the video ended after 3 frames but the guide goes on");
  });

  test("unknown modes and offsets outside the ebsynth mode are UsageErrors", async () => {
    await expect(smooth(4, { mode: "median" as SmoothMode })).rejects.toThrow('unknown smoothing mode "median"');
    await expect(smooth(4, { mode: "fast", offsets: [1] })).rejects.toThrow("offsets are for the ebsynth mode");
  });
});
