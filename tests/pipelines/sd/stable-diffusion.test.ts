import { afterAll, describe, expect, test } from "bun:test";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { float32Ops, SCHEDULER_KINDS } from "../../../pipelines/sd/schedulers/index.ts";
import { StableDiffusion } from "../../../pipelines/sd/stable-diffusion.ts";
import { tensorOps } from "../../../pipelines/sd/tensor-ops.ts";

const sd = await StableDiffusion.load("tiny");
afterAll(() => sd.dispose());
const small = { prompt: "a red fox in the snow", steps: 4, width: 64, height: 64 };

const meanAbsDiff = (a: Frame, b: Frame) => a.data.reduce((s, v, i) => s + Math.abs(v - b.data[i]!), 0) / a.data.length;

describe("StableDiffusion on tiny", () => {
  test("the same seed gives the same bytes, another seed other bytes", () => {
    const a = sd.generate({ ...small, seed: 3 });
    const b = sd.generate({ ...small, seed: 3 });
    const c = sd.generate({ ...small, seed: 4 });
    expect(Buffer.compare(a.data, b.data)).toBe(0);
    expect(meanAbsDiff(a, c)).toBeGreaterThan(2);
    expect([a.width, a.height, a.data.length]).toEqual([64, 64, 64 * 64 * 3]);
  });

  test("the prompt changes the image", () => {
    const a = sd.generate({ ...small, seed: 3 });
    const b = sd.generate({ ...small, seed: 3, prompt: "a deep blue ocean at night" });
    expect(meanAbsDiff(a, b)).toBeGreaterThan(1);
  });

  test("the negative prompt matters only with guidance on", () => {
    const plain = sd.generate({ ...small, seed: 5, guidance: 1 });
    const negative = sd.generate({ ...small, seed: 5, guidance: 1, negativePrompt: "green" });
    expect(Buffer.compare(plain.data, negative.data)).toBe(0);
    const guided = sd.generate({ ...small, seed: 5, guidance: 7.5, negativePrompt: "green" });
    expect(meanAbsDiff(plain, guided)).toBeGreaterThan(0.5);
  });

  test("every scheduler kind runs and reports each step", () => {
    for (const scheduler of SCHEDULER_KINDS) {
      const steps: number[] = [];
      const frame = sd.generate({ ...small, seed: 1, scheduler, onStep: ({ stepIndex }) => void steps.push(stepIndex) });
      // PLMS repeats its second timestep: one more model call
      expect(steps).toEqual(scheduler === "pndm" ? [0, 1, 2, 3, 4] : [0, 1, 2, 3]);
      expect(frame.data.some((v) => v !== frame.data[0])).toBe(true);
    }
  });

  test("img2img stays closer to its input the lower the strength", () => {
    const source = sd.generate({ ...small, seed: 11 });
    const prompt = "a deep blue ocean at night";
    const light = sd.generate({ ...small, prompt, seed: 2, image: source, strength: 0.3 });
    const heavy = sd.generate({ ...small, prompt, seed: 2, image: source, strength: 1 });
    expect(meanAbsDiff(source, light)).toBeLessThan(meanAbsDiff(source, heavy));
  });

  test("sizes that are not multiples of 8 are refused", () => {
    expect(() => sd.generate({ ...small, width: 100 })).toThrow("width 100 is not a positive multiple of 8");
  });
});

describe("tensorOps", () => {
  test("combines up to five terms like the plain Float32Array ops", () => {
    const xs = [1, 2, 3, 4, 5].map((k) => Float32Array.from({ length: 37 }, (_, i) => Math.sin(i * k)));
    const coefs = [0.5, -1.25, 2, 0.125, -3];
    for (let n = 1; n <= 5; n++) {
      const tensors = xs.slice(0, n).map((x) => Tensor.from(sd.backend, "f32", [37], x));
      const got = tensorOps.combine(tensors.map((t, i) => [coefs[i]!, t] as const)).readF32();
      const want = float32Ops.combine(xs.slice(0, n).map((x, i) => [coefs[i]!, x] as const));
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    }
  });
});
