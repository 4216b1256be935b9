import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { meanAbsoluteDifference, PerceptualDistance, SsimDistance } from "../../../pipelines/latent-blending/distance.ts";
import { LatentBlending, type TransitionImages } from "../../../pipelines/latent-blending/index.ts";
import { GraphBuilder } from "../../../pipelines/onnx/model-builder.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { Rng } from "../../../pipelines/sd/random.ts";

const cpu = new CpuBackend();
const size = 48;
const picture = (noise: number, seed = 1): Frame => {
  const z = new Rng(seed).normal(new Float32Array(size * size * 3));
  const data = Uint8Array.from({ length: size * size * 3 }, (_, i) => {
    const x = (i / 3) % size, y = Math.floor(i / 3 / size);
    return Math.max(0, Math.min(255, Math.round(128 + 80 * Math.sin(x / 5) * Math.cos(y / 7) + noise * z[i]!)));
  });
  return { width: size, height: size, data };
};

describe("the structural (multi-scale SSIM) distance", () => {
  const d = new SsimDistance(cpu);
  test("is 0 for identical frames", () => {
    expect(d.distance(picture(0), picture(0))).toBeCloseTo(0, 6);
  });
  test("grows with the amount of noise added", () => {
    const clean = picture(0);
    const values = [5, 20, 60].map((n) => d.distance(clean, picture(n)));
    expect(values[0]!).toBeGreaterThan(0);
    expect(values[1]!).toBeGreaterThan(values[0]!);
    expect(values[2]!).toBeGreaterThan(values[1]!);
  });
  test("is symmetric and refuses frames of different sizes", () => {
    const [a, b] = [picture(10, 2), picture(10, 3)];
    expect(d.distance(a, b)).toBeCloseTo(d.distance(b, a), 6);
    expect(() => d.distance(a, { width: 8, height: 8, data: new Uint8Array(192) })).toThrow(/48x48 frame with a 8x8/);
  });
});

test("mean absolute difference averages the byte differences", () => {
  const a: Frame = { width: 1, height: 1, data: Uint8Array.of(0, 10, 20) };
  const b: Frame = { width: 1, height: 1, data: Uint8Array.of(3, 10, 14) };
  expect(meanAbsoluteDifference(a, b)).toBe(3);
});

describe("a perceptual (ONNX) distance model", () => {
  // A stand-in for LPIPS: two images [1, 3, H, W] in [−1, 1] → the mean squared difference.
  const dir = mkdtempSync(join(tmpdir(), "latentloom-perceptual-"));
  const path = join(dir, "mse.onnx");
  const g = new GraphBuilder("mse_distance");
  const a = g.input("image_a", "f32", [1, 3, "height", "width"]);
  const b = g.input("image_b", "f32", [1, 3, "height", "width"]);
  const diff = g.node("Sub", [a, b]);
  const mean = g.node("ReduceMean", [g.node("Mul", [diff, diff])], { attrs: { keepdims: 0 } });
  g.output(mean, "f32", [], "distance");
  writeFileSync(path, g.toModel({ opset: 17 }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The same distance in plain TS, from the bytes. */
  const mse = (p: Frame, q: Frame) => p.data.reduce((s, v, i) => s + ((v - q.data[i]!) / 127.5) ** 2, 0) / p.data.length;

  test("gives the model's scalar for a pair of frames", () => {
    using d = PerceptualDistance.load(path, cpu);
    expect(d.distance(picture(0), picture(0))).toBe(0);
    expect(d.distance(picture(0), picture(40))).toBeCloseTo(mse(picture(0), picture(40)), 6);
  });

  test("is what the adaptive tree splits by: its distances equal the TS computation", async () => {
    using lb = await LatentBlending.load({ model: "tiny", perceptualModel: path });
    expect(lb.distance.name).toContain("perceptual");
    const seen: TransitionImages[] = [];
    const options = { width: 64, height: 64, steps: 4, fps: 4, duration: 2, maxBranches: 5, depthStrength: 0.25, onTransition: (_: number, t: TransitionImages) => seen.push(t) };
    for await (const _ of lb.transition(["a forest", "a desert"], options));
    const t = seen[0]!;
    expect(t.distances.length).toBe(4);
    // f32 sums inside ORT: relative agreement
    t.distances.forEach((d, j) => expect(Math.abs(d / mse(t.images[j]!, t.images[j + 1]!) - 1)).toBeLessThan(1e-5));
  });
});
