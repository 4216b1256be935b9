import { describe, expect, test } from "bun:test";
import { resizeFrame } from "../../../pipelines/attention-interpolation/resize.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";

/** A horizontal ramp: red = x, green = constant, blue = y. */
function ramp(width: number, height: number): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x * 10, 77, y * 10], (y * width + x) * 3);
  return { width, height, data };
}

describe("bilinear resize", () => {
  test("keeps width and height apart on a non-square frame (the reference swapped them)", () => {
    const out = resizeFrame(ramp(12, 6), 24, 8);
    expect([out.width, out.height, out.data.length]).toEqual([24, 8, 24 * 8 * 3]);
  });

  test("halving samples between pixel centres: output x takes the mean of source 2x and 2x+1", () => {
    const out = resizeFrame(ramp(8, 4), 4, 2);
    // red at output x is (20x + 20x + 10) / 2 = 20x + 5; blue at output y likewise
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) expect(Array.from(out.data.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3))).toEqual([20 * x + 5, 77, 20 * y + 5]);
  });

  test("upscaling a constant colour keeps it, and the same size returns the frame itself", () => {
    const flat: Frame = { width: 3, height: 2, data: new Uint8Array(18).fill(91) };
    expect(resizeFrame(flat, 7, 5).data.every((v) => v === 91)).toBe(true);
    expect(resizeFrame(flat, 3, 2)).toBe(flat);
  });
});
