import { describe, expect, test } from "bun:test";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { meanAbsoluteDifference, SsimDistance } from "../../../pipelines/latent-blending/distance.ts";
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
