/**
 * The ContinuitySeq clip loop on tiny-continuation: lengths and labels, the carried latents (an
 * exact copy of the clip's last k), k drawn in [min, max] from the seed, conditioning that really
 * conditions (another start changes clip 0; with k = 0 the next clip is the start-independent
 * unconditional one), smooth joins against an unconditioned control, resume, and bad input.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkContinuePlan, conditioningCounts, lastFrames, type ContinuedFrame, ContinuitySeq, type ContinueOptions, meanAbsDifference,
} from "../../../pipelines/continuation/index.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { clipFrames } from "../../../pipelines/sd/video-frames.ts";

const tmp = mkdtempSync(join(tmpdir(), "latentloom-continuation-"));
const job = await ContinuitySeq.load({ model: "tiny-continuation" });
afterAll(() => {
  job.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

const W = 64, H = 48;
/** A start picture: a smooth gradient, shifted by `phase` (no model involved). */
function picture(phase: number, width = W, height = H): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 4 + phase) & 255;
      data[i + 1] = (y * 5 + 2 * phase) & 255;
      data[i + 2] = 128 + ((phase * 3) & 63);
    }
  }
  return { width, height, data };
}
const base: ContinueOptions = { prompt: "a boat at sea", steps: 4, frames: 6, times: 3, minConditioningFrames: 2, maxConditioningFrames: 3, seed: 7 };
const run = (o: Partial<ContinueOptions>, start: Frame[] = [picture(0)]): ContinuedFrame[] => [...job.run({ ...base, ...o }, start)];
const same = (a: Frame, b: Frame) => Buffer.from(a.data).equals(Buffer.from(b.data));

describe("ContinuitySeq", () => {
  test("makes times × frames frames, labelled clip by clip, and counts the pairs at joins and inside", () => {
    const out = run({});
    expect(out.map((f) => [f.clip, f.index])).toEqual(Array.from({ length: 18 }, (_, i) => [Math.floor(i / 6), i % 6]));
    expect(out.every((f) => f.frame.width === W && f.frame.height === H)).toBe(true);
    const r = job.differences.report();
    expect(r.pairs).toEqual({ start: 1, join: 2, inside: 15 });
    // the reported join mean is the plain mean of |Δ| over the two straddling pairs
    const joins = [meanAbsDifference(out[5]!.frame, out[6]!.frame), meanAbsDifference(out[11]!.frame, out[12]!.frame)];
    expect(r.join).toBeCloseTo((joins[0]! + joins[1]!) / 2, 10);
    expect(job.stats.carried).toEqual(conditioningCounts(7, 2, 3, 3));
  });

  test("frames stream clip by clip: the first frame comes before any later clip is denoised", () => {
    const calls: number[] = [];
    for (const f of job.run({ ...base, guidance: 7.5 }, [picture(0)])) if (f.index === 0) calls.push(job.stats.unetCalls);
    expect(calls).toEqual([4, 8, 12]);
  });

  test("an input video is read to its end keeping only its last n frames", async () => {
    async function* video() {
      for (let t = 0; t < 50; t++) yield picture(t);
    }
    const kept = await lastFrames(video(), 3);
    expect(kept.map((f) => f.data[0])).toEqual([47, 48, 49].map((t) => picture(t).data[0]));
  });

  test("k is drawn in [min, max] inclusive, from the seed alone", () => {
    const ks = conditioningCounts(3, 1, 4, 400);
    expect(Math.min(...ks)).toBe(1);
    expect(Math.max(...ks)).toBe(4);
    expect(conditioningCounts(3, 1, 4, 400)).toEqual(ks);
    expect(conditioningCounts(3, 2, 2, 5)).toEqual([2, 2, 2, 2, 2]);
  });

  test("the carried conditioning is an exact copy of a clip's last k latents", () => {
    const [F, h, w] = [5, 2, 3];
    const data = Float32Array.from({ length: 4 * F * h * w }, (_, i) => i * 0.5 - 7);
    using clip = Tensor.from(job.backend, "f32", [1, 4, F, h, w], data);
    using tail = clipFrames(clip, 0, F - 2, F);
    const expected: number[] = [];
    for (let c = 0; c < 4; c++) for (let f = F - 2; f < F; f++) for (let i = 0; i < h * w; i++) expected.push(data[(c * F + f) * h * w + i]!);
    expect(tail.shape).toEqual([1, 4, 2, h, w]);
    expect(Array.from(tail.readF32() as Float32Array)).toEqual(expected);
    using none = clipFrames(clip, 0, F, F);
    expect(none.shape).toEqual([1, 4, 0, h, w]);
  });

  test("the start conditions clip 0: another picture gives other frames; the same gives the same bytes", () => {
    const a = run({ times: 1 });
    const again = run({ times: 1 });
    const b = run({ times: 1 }, [picture(90)]);
    expect(a.every((f, i) => same(f.frame, again[i]!.frame))).toBe(true);
    expect(meanAbsDifference(a[0]!.frame, b[0]!.frame)).toBeGreaterThan(5);
  });

  test("with zero conditioning frames a clip is the unconditional one: the start no longer reaches clip 1", () => {
    const o = { times: 2, minConditioningFrames: 0, maxConditioningFrames: 0 };
    const a = run(o);
    const b = run(o, [picture(90)]);
    expect(meanAbsDifference(a[0]!.frame, b[0]!.frame)).toBeGreaterThan(5);
    for (let i = 6; i < 12; i++) expect(same(a[i]!.frame, b[i]!.frame)).toBe(true);
    // while with frames carried, clip 1 still differs
    const c = run({ times: 2 });
    const d = run({ times: 2 }, [picture(90)]);
    expect(meanAbsDifference(c[6]!.frame, d[6]!.frame)).toBeGreaterThan(0.5);
  });

  test("joins have no jump: at a join the change is no larger than inside a clip, and far smaller than without conditioning", () => {
    run({ times: 4 });
    const carried = job.differences.report();
    run({ times: 4, minConditioningFrames: 0, maxConditioningFrames: 0 });
    const none = job.differences.report();
    expect(carried.join!).toBeLessThan(carried.inside!);
    expect(none.join!).toBeGreaterThan(3 * carried.join!);
  });

  test("a different prompt per clip changes that clip and not the ones before it", () => {
    const one = run({});
    const two = run({ prompts: ["a boat at sea", "a red fire in a dark forest"] });
    for (let i = 0; i < 6; i++) expect(same(one[i]!.frame, two[i]!.frame)).toBe(true);
    expect(meanAbsDifference(one[8]!.frame, two[8]!.frame)).toBeGreaterThan(0.5);
  });

  test("resume: a run stopped after clip 0 and resumed makes the remaining frames byte for byte", () => {
    const whole = run({});
    const checkpoint = join(tmp, "state");
    let taken = 0;
    for (const _ of job.run({ ...base, checkpoint }, [picture(0)])) if (++taken === 9) break; // inside clip 1
    const rest = [...job.run({ ...base, checkpoint, resume: true }, [picture(0)])];
    expect(rest.map((f) => f.clip)).toEqual(Array.from({ length: 12 }, (_, i) => 1 + Math.floor(i / 6)));
    expect(rest.every((f, i) => same(f.frame, whole[6 + i]!.frame))).toBe(true);
    expect(() => [...job.run({ ...base, seed: 8, checkpoint, resume: true }, [picture(0)])]).toThrow(/other settings \(seed\)/);
    // with --normalize the running statistics travel in the checkpoint too
    const norm = { ...base, normalize: true };
    const wholeNorm = run(norm);
    taken = 0;
    for (const _ of job.run({ ...norm, checkpoint }, [picture(0)])) if (++taken === 13) break; // inside clip 2
    const restNorm = [...job.run({ ...norm, checkpoint, resume: true }, [picture(0)])];
    expect(restNorm.length).toBe(6);
    expect(restNorm.every((f, i) => same(f.frame, wholeNorm[12 + i]!.frame))).toBe(true);
    expect(same(wholeNorm[12]!.frame, whole[12]!.frame)).toBe(false);
  });

  describe("bad input is one UsageError naming the problem", () => {
    test("conditioning longer than a clip allows", () => {
      expect(() => checkContinuePlan({ frames: 4, maxConditioningFrames: 5, minConditioningFrames: 1 })).toThrow(/max_conditioning_frames 5 is longer than allowed: a clip has only 4 frames/);
      expect(() => run({ frames: 4, maxConditioningFrames: 5 })).toThrow(/longer than allowed/);
    });
    test("an export with a fixed conditioning axis takes only that many frames", () => {
      expect(() => checkContinuePlan({ minConditioningFrames: 2, maxConditioningFrames: 4 }, 4)).toThrow(/conditioning axis is fixed at 4 frames/);
      expect(() => checkContinuePlan({ minConditioningFrames: 4, maxConditioningFrames: 4 }, 4)).not.toThrow();
    });
    test("min above max", () => {
      expect(() => checkContinuePlan({ minConditioningFrames: 3, maxConditioningFrames: 2 })).toThrow(/min_conditioning_frames 3 is more than max_conditioning_frames 2/);
    });
    test("start frames of mismatched sizes, or not multiples of 8", () => {
      expect(() => run({}, [picture(0), picture(1, 72, 48)])).toThrow(/start frames differ in size: 72x48 and 64x48/);
      expect(() => run({}, [picture(0, 60, 48)])).toThrow(/60x48; both sides must be multiples of 8/);
    });
  });
});
