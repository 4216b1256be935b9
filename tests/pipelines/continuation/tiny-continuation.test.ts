/**
 * The tiny ContinuitySeq UNet through ONNX Runtime: the spec's interface (any number of
 * conditioning frames, out shaped like sample), zero conditioning frames equal to the graph built
 * without a conditioning input, and conditioning frames that really condition.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContinuationUnet } from "../../../pipelines/continuation/unet.ts";
import { openDevice } from "../../../pipelines/runtime/device.ts";
import { OrtModel } from "../../../pipelines/runtime/ort-model.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { Rng } from "../../../pipelines/sd/random.ts";
import { buildTinyContinuationUnet } from "../../../pipelines/sd/tiny/continuation/folder.ts";
import { buildTinyVideoUnet } from "../../../pipelines/sd/tiny/video/folder.ts";

const tmp = mkdtempSync(join(tmpdir(), "latentloom-tiny-continuation-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const { backend } = openDevice("cpu");
const path = join(tmp, "unet.onnx");
writeFileSync(path, buildTinyContinuationUnet(1234));
const uncondPath = join(tmp, "unet-uncond.onnx");
writeFileSync(uncondPath, buildTinyContinuationUnet(1234, { conditioning: false }));
const unet = ContinuationUnet.load(path, backend);
afterAll(() => unet.dispose());

const F = 4, h = 6, w = 8;
const randn = (seed: number, shape: number[]) => Tensor.from(backend, "f32", shape, new Rng(seed).normal(new Float32Array(shape.reduce((a, b) => a * b, 1))));
const x = randn(1, [1, 4, F, h, w]);
const context = randn(2, [1, 77, 64]);
const values = (t: Tensor) => Array.from(t.readF32() as Float32Array);
const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe("the tiny-continuation UNet", () => {
  test("takes any number of conditioning frames, 0 … F + 2, and returns ε shaped like sample, finite", () => {
    for (let fc = 0; fc <= F + 2; fc++) {
      using cond = randn(10 + fc, [1, 4, fc, h, w]);
      using eps = unet.predict(x, cond, 501, context);
      expect(eps.shape).toEqual([1, 4, F, h, w]);
      expect(values(eps).every(Number.isFinite)).toBe(true);
    }
    expect(unet.fixedConditioningFrames).toBeNull();
  });

  test("zero conditioning frames give exactly what the graph without a conditioning input gives", () => {
    using reference = OrtModel.load(uncondPath, backend);
    using out = Tensor.empty(backend, "f32", [1, 4, F, h, w]);
    using t = Tensor.from(backend, "i64", [], BigInt64Array.from([501n]));
    reference.run({ sample: x, timestep: t, encoder_hidden_states: context }, { out_sample: out });
    using none = Tensor.empty(backend, "f32", [1, 4, 0, h, w]);
    using eps = unet.predict(x, none, 501, context);
    expect(values(eps)).toEqual(values(out));
    // and one frame of conditioning does not
    using one = randn(3, [1, 4, 1, h, w]);
    using conditioned = unet.predict(x, one, 501, context);
    expect(maxDiff(values(conditioned), values(out))).toBeGreaterThan(1e-2);
  });

  test("changing the last conditioning frame, or only an earlier one, changes ε", () => {
    using cond = randn(4, [1, 4, 3, h, w]);
    using base = unet.predict(x, cond, 501, context);
    const data = cond.readF32() as Float32Array;
    const plane = h * w;
    // frame j of channel c sits at (c·3 + j)·plane
    const edited = (frame: number) => {
      const copy = Float32Array.from(data);
      for (let c = 0; c < 4; c++) for (let i = 0; i < plane; i++) copy[(c * 3 + frame) * plane + i]! += 1;
      return Tensor.from(backend, "f32", cond.shape, copy);
    };
    using last = edited(2);
    using earlier = edited(0);
    using a = unet.predict(x, last, 501, context);
    using b = unet.predict(x, earlier, 501, context);
    expect(maxDiff(values(a), values(base))).toBeGreaterThan(1e-2);
    expect(maxDiff(values(b), values(base))).toBeGreaterThan(1e-4);
  });

  test("a batch of two clips equals the two clips run alone (the CFG call)", () => {
    const x2 = randn(5, [2, 4, F, h, w]);
    const c2 = randn(6, [2, 4, 2, h, w]);
    const ctx2 = randn(7, [2, 77, 64]);
    using both = unet.predict(x2, c2, 301, ctx2);
    for (let b = 0; b < 2; b++) {
      using xb = x2.slice(b, b + 1);
      using cb = c2.slice(b, b + 1);
      using tb = ctx2.slice(b, b + 1);
      using alone = unet.predict(xb, cb, 301, tb);
      using row = both.slice(b, b + 1);
      expect(maxDiff(values(row), values(alone))).toBeLessThan(1e-5);
    }
  });

  test("conditioning latents of another size are one UsageError naming both sizes", () => {
    using cond = randn(8, [1, 4, 2, h, w + 1]);
    expect(() => unet.predict(x, cond, 501, context)).toThrow(/conditioning latents are 9x6, the clip's 8x6/);
  });

  test("a UNet without conditioning_hidden_states (tiny-video's) is refused, naming the input", () => {
    const video = join(tmp, "video.onnx");
    writeFileSync(video, buildTinyVideoUnet(1234));
    expect(() => ContinuationUnet.load(video, backend)).toThrow(/has no conditioning_hidden_states input/);
  });
});
