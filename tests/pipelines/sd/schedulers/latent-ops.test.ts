import { describe, expect, test } from "bun:test";
import { float32Ops } from "../../../../pipelines/sd/schedulers/latent-ops.ts";

describe("float32Ops", () => {
  test("combines terms element by element into a new array", () => {
    const a = Float32Array.of(1, 2, 3);
    const b = Float32Array.of(-1, 0.5, 4);
    const out = float32Ops.combine([
      [2, a],
      [-0.5, b],
    ]);
    expect(Array.from(out)).toEqual([2.5, 3.75, 4]);
    expect(out).not.toBe(a);
    expect(Array.from(a)).toEqual([1, 2, 3]);
  });

  test("sums in float64 and rounds once to f32", () => {
    const big = Float32Array.of(16777216); // 2^24: adding 1 twice in f32 would be lost
    const one = Float32Array.of(1);
    expect(float32Ops.combine([[1, big], [1, one], [1, one]])[0]).toBe(16777218);
  });

  test("refuses mismatched lengths and an empty term list", () => {
    expect(() => float32Ops.combine([[1, new Float32Array(2)], [1, new Float32Array(3)]])).toThrow(/lengths differ/);
    expect(() => float32Ops.combine([])).toThrow(/at least one term/);
  });

  test("clamps to a range as a new array", () => {
    expect(Array.from(float32Ops.clamp!(Float32Array.of(-3, 0.25, 9), -1, 1))).toEqual([-1, 0.25, 1]);
  });
});
