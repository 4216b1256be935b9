/** Pillow's ImageEnhance.Contrast and .Sharpness, checked on values worked by hand from Pillow's formulas. */
import { describe, expect, test } from "bun:test";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { contrast, postprocess, sharpness } from "../../../pipelines/sd/enhance.ts";

const grey = (width: number, height: number, values: number[]): Frame => ({
  width, height, data: Uint8Array.from(values.flatMap((v) => [v, v, v])),
});
const values = (f: Frame) => Array.from(f.data.filter((_, i) => i % 3 === 0));

describe("contrast", () => {
  // L = (19595·100 + 38470·100 + 7471·100 + 2^15) >> 16 = 100, and 200 for the other: mean 150
  const frame = grey(2, 1, [100, 200]);
  test("blends towards the mean luminance: factor 0.5 halves the distance to 150", () => {
    expect(values(contrast(frame, 0.5))).toEqual([125, 175]);
  });
  test("factor 2 doubles it, clipped to 0..255", () => {
    expect(values(contrast(frame, 2))).toEqual([50, 250]);
    expect(values(contrast(grey(2, 1, [10, 250]), 3))).toEqual([0, 255]);
  });
  test("factor 1 returns the frame itself", () => {
    expect(contrast(frame, 1)).toBe(frame);
  });
});

describe("sharpness", () => {
  // SMOOTH = [1 1 1; 1 5 1; 1 1 1] / 13 at the centre: 5·130/13 + 0.5 = 50.5 → 50; borders are copied
  const frame = grey(3, 3, [0, 0, 0, 0, 130, 0, 0, 0, 0]);
  test("factor 0 is the SMOOTH filter, borders untouched", () => {
    expect(values(sharpness(frame, 0))).toEqual([0, 0, 0, 0, 50, 0, 0, 0, 0]);
  });
  test("factor 2 pushes away from it: 50 + 2·(130 − 50) = 210", () => {
    expect(values(sharpness(frame, 2))).toEqual([0, 0, 0, 0, 210, 0, 0, 0, 0]);
  });
  test("contrast runs before sharpness", () => {
    // contrast 2 around the mean luminance int(130/9 + 0.5) = 14: centre 246, the rest 0 (clipped)
    expect(values(postprocess(frame, { contrast: 2, sharpness: 0 }))).toEqual([0, 0, 0, 0, Math.trunc(5 * 246 / 13 + 0.5), 0, 0, 0, 0]);
  });
});
