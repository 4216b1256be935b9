/**
 * The DiffSynth job on the tiny model: DiffSynth's timesteps (spec test idea 3), the ε' round
 * trip (idea 4), one shared noise (idea 6, against the seeded generator directly), the in-loop
 * deflicker lowering frame-to-frame change on the flickering clip, streaming in chunks with the
 * K/V cache bounded by the chunk and carried frames closing the seams, and bad input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FrameError, UsageError } from "../../../../pipelines/errors.ts";
import type { Frame } from "../../../../pipelines/io/frame.ts";
import { Tensor } from "../../../../pipelines/runtime/tensor.ts";
import { Rng } from "../../../../pipelines/sd/random.ts";
import { tensorOps } from "../../../../pipelines/sd/tensor-ops.ts";
import { DiffSynth, noiseFromOriginal } from "../../../../pipelines/stylize/diffsynth/index.ts";
import { flickerClip, meanAbsDiff, temporalDiff } from "../../../../pipelines/stylize/index.ts";

let job: DiffSynth;
beforeAll(async () => {
  job = await DiffSynth.load();
});
afterAll(() => job.dispose());

const size = { width: 64, height: 64 };
async function collect(frames: AsyncIterable<Frame>, options: Parameters<DiffSynth["run"]>[1]): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of job.run(frames, { size, steps: 4, ...options })) out.push(f);
  return out;
}

describe("DiffSynth's DDIM schedule", () => {
  test("N = 20 → 999, 949, …, 49; N = 10 at strength 0.3 → 299, 199, 99; the last step lands on x̂0 (ᾱ_prev = 1)", () => {
    expect(job.scheduler(20, 1).timesteps).toEqual(Array.from({ length: 20 }, (_, k) => 999 - 50 * k));
    expect(job.scheduler(10, 0.3).timesteps).toEqual([299, 199, 99]);
    const s = job.scheduler(10, 1);
    const x = Tensor.from(job.sd.backend, "f32", [1, 4], [0.5, -1, 2, 0.25]);
    const eps = Tensor.from(job.sd.backend, "f32", [1, 4], [1, 0.5, -0.5, 0]);
    const a = s.alphasCumprod[s.timesteps[9]!]!; // t = 99
    const stepped = s.step(tensorOps, eps, 9, x).readF32();
    const x0 = [0.5, -1, 2, 0.25].map((v, i) => (v - Math.sqrt(1 - a) * [1, 0.5, -0.5, 0][i]!) / Math.sqrt(a));
    x0.forEach((v, i) => expect(stepped[i]).toBeCloseTo(v, 4));
  });

  test("int(steps·strength) = 0 is a UsageError, not an empty run", () => {
    expect(() => job.scheduler(3, 0.2)).toThrow(UsageError);
  });

  test("ε' round trip: x̂0 of ε turned back into a prediction gives ε again", () => {
    const s = job.scheduler(6, 1);
    const values = (k: number) => Array.from({ length: 16 }, (_, i) => Math.sin(i * k));
    const x = Tensor.from(job.sd.backend, "f32", [1, 4, 2, 2], values(0.7));
    const eps = Tensor.from(job.sd.backend, "f32", [1, 4, 2, 2], values(1.9));
    const { signal, noise } = s.noiseCoefficients(s.timesteps[2]!);
    using x0 = s.predictOriginal(tensorOps, eps, 2, x);
    const back = noiseFromOriginal(x, x0, signal, noise).readF32();
    values(1.9).forEach((v, i) => expect(back[i]).toBeCloseTo(v, 4));
  });
});

describe("the shared noise", () => {
  test("at strength 1 every frame starts from the same latents: the seed's standard normals", async () => {
    let starts: Float32Array[] = [];
    await collect(flickerClip({ frames: 3, ...size }), { strength: 1, seed: 5, smoother: false, onStart: (l) => (starts = l.map((t) => t.readF32())) });
    const expected = new Rng(5).normal(new Float32Array(4 * 8 * 8));
    expect(starts.length).toBe(3);
    for (const s of starts) expect(Array.from(s)).toEqual(Array.from(expected));
  });
});

describe("the in-loop deflicker", () => {
  test("lowers frame-to-frame change on the flickering clip (numbers printed)", async () => {
    const options = { strength: 0.6, combinePattern: [0] };
    const off = await collect(flickerClip({ frames: 6, ...size }), { ...options, smoother: false });
    const calls = job.stats.smootherCalls;
    const on = await collect(flickerClip({ frames: 6, ...size }), { ...options, smoother: true });
    // 4 steps at strength 0.6 run 2, both smoothed (interval 1, ignore 0)
    expect(job.stats.smootherCalls - calls).toBe(2);
    const input: Frame[] = [];
    for await (const f of flickerClip({ frames: 6, ...size })) input.push(f);
    console.log(`frame-to-frame mean |Δ|: input ${temporalDiff(input).toFixed(2)}, smoother off ${temporalDiff(off).toFixed(2)}, on ${temporalDiff(on).toFixed(2)}`);
    expect(temporalDiff(off) / temporalDiff(on)).toBeGreaterThan(1.5);
  });
});

describe("streaming", () => {
  test("frames come out chunk by chunk, and the K/V cache holds the same at most for 4 frames as for 8", async () => {
    let pulled = 0;
    async function* counted(n: number) {
      for await (const f of flickerClip({ frames: n, ...size })) {
        pulled++;
        yield f;
      }
    }
    const peaks: number[] = [];
    for (const n of [4, 8]) {
      pulled = 0;
      let first = -1, count = 0;
      for await (const _ of job.run(counted(n), { size, steps: 2, strength: 1, chunk: 2, smoother: false })) {
        if (first < 0) first = pulled;
        count++;
      }
      expect([first, count]).toEqual([2, n]);
      peaks.push(job.crossFrame!.stats.peakBytes);
    }
    expect(peaks[0]).toBeGreaterThan(0);
    expect(peaks[1]).toBe(peaks[0]!);
  });

  test("chunks carry their last frames over: the change across chunk seams drops (numbers printed)", async () => {
    const seams = async (chunkCarry: boolean) => {
      const out = await collect(flickerClip({ frames: 6, ...size }), { strength: 0.6, chunk: 2, chunkCarry });
      return [1, 3].reduce((s, i) => s + meanAbsDiff(out[i]!, out[i + 1]!), 0) / 2;
    };
    const [carried, independent] = [await seams(true), await seams(false)];
    console.log(`mean |Δ| across chunk seams (chunk 2): carried ${carried.toFixed(2)}, independent ${independent.toFixed(2)}`);
    expect(independent / carried).toBeGreaterThan(2);
  });

  test("frame_interval and frame_maximum_count pick frames 0, 2, 4 of 10", async () => {
    const out = await collect(flickerClip({ frames: 10, ...size }), { steps: 2, strength: 1, smoother: false, combinePattern: [0], frameInterval: 2, frameMaximumCount: 3 });
    expect(out.length).toBe(3);
  });
});

describe("bad input", () => {
  test("an empty stream is a FrameError; a bad pattern or chunk a UsageError, before any work", async () => {
    await expect(collect((async function* () {})(), {})).rejects.toThrow(FrameError);
    await expect(collect(flickerClip({ frames: 2, ...size }), { combinePattern: [1] })).rejects.toThrow(/lacks 0/);
    await expect(collect(flickerClip({ frames: 2, ...size }), { chunk: 0 })).rejects.toThrow(UsageError);
    await expect(collect(flickerClip({ frames: 2, ...size }), { controls: [{ processor: "shuffle", scale: 1 }] })).rejects.toThrow(/style image/);
  });
});
