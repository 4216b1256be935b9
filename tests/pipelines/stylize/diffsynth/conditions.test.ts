/**
 * The Shuffle ControlNet as a global-pool net (shared/specs/diffsynth.md §6b): residuals of the
 * conditional half become per-channel spatial means, the unconditional half zeros — against
 * hand-worked numbers and against the plain ControlNet residuals averaged by a loop here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Frame } from "../../../../pipelines/io/frame.ts";
import { Tensor } from "../../../../pipelines/runtime/tensor.ts";
import { DiffSynth, globalPool, PooledGuidance } from "../../../../pipelines/stylize/diffsynth/index.ts";
import { cleanFrame, flickerClip, meanAbsDiff } from "../../../../pipelines/stylize/index.ts";

describe("globalPool", () => {
  test("CFG batch [uncond; cond]: uncond → 0, cond → its mean; a lone cond row → its mean", () => {
    expect(Array.from(globalPool(new Float32Array([1, 2, 3, 5]), [2, 1, 1, 2]))).toEqual([0, 0, 4, 4]);
    expect(Array.from(globalPool(new Float32Array([1, 3, 10, 20]), [1, 2, 1, 2]))).toEqual([2, 2, 15, 15]);
  });
});

describe("the shuffle condition in the tiny pipeline", () => {
  let job: DiffSynth;
  beforeAll(async () => {
    job = await DiffSynth.load();
  });
  afterAll(() => job.dispose());
  const size = { width: 64, height: 64 };

  test("a pooled part feeds the UNet the per-channel means of the plain ControlNet's residuals", () => {
    const sd = job.sd;
    const image = cleanFrame(3, size);
    using plain = sd.controlGuidance([{ image }], 64, 64, 2);
    using pooled = new PooledGuidance([{ guidance: sd.controlGuidance([{ image }], 64, 64, 2), pooled: true }], sd.unet.model.inputs, "f32", sd.backend, size, 2);
    const conditioning = sd.condition("a test", "", 7.5);
    using context = conditioning.context;
    using sample = Tensor.from(sd.backend, "f32", [2, 4, 8, 8], new Float32Array(2 * 4 * 64).map((_, i) => Math.sin(i)));
    using a = plain.feeds(sample, 999, 0, context);
    using b = pooled.feeds(sample, 999, 0, context);
    for (const [name, t] of Object.entries(a.inputs)) {
      const [, c = 0, h = 0, w = 0] = t.shape;
      const raw = t.readF32(), got = b.inputs[name]!.readF32();
      for (let k = 0; k < c; k++) {
        let mean = 0;
        for (let i = 0; i < h * w; i++) mean += raw[(c + k) * h * w + i]!;
        mean /= h * w;
        for (let i = 0; i < h * w; i++) {
          expect(got[k * h * w + i]).toBe(0);
          expect(got[(c + k) * h * w + i]).toBeCloseTo(mean, 5);
        }
      }
    }
  });

  test("canny + shuffle of a style image runs end to end and changes the frames", async () => {
    const run = async (options: Parameters<DiffSynth["run"]>[1]) => {
      const out: Frame[] = [];
      for await (const f of job.run(flickerClip({ frames: 2, ...size }), { size, steps: 4, smoother: false, ...options })) out.push(f);
      return out;
    };
    const canny = await run({ controls: [{ processor: "canny", scale: 1 }] });
    const both = await run({ controls: [{ processor: "canny", scale: 1 }, { processor: "shuffle", scale: 1 }], styleImage: cleanFrame(9, { width: 40, height: 30, seed: 4 }) });
    expect(both.length).toBe(2);
    expect((meanAbsDiff(both[0]!, canny[0]!) + meanAbsDiff(both[1]!, canny[1]!)) / 2).toBeGreaterThan(0.1);
  });
});
