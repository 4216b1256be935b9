/**
 * The streamed contrast normalisation across clips, on values worked by hand from the spec's
 * formula x_i ← (x_i − mean_i)/std_i · mean_j(std_j) + mean_j(mean_j), j over the clips so far.
 */
import { describe, expect, test } from "bun:test";
import { ClipNormalizer } from "../../../pipelines/continuation/normalize.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";

/** A 2×1 frame whose pixels are grey `a` and grey `b`. */
const pair = (a: number, b: number): Frame => ({ width: 2, height: 1, data: Uint8Array.from([a, a, a, b, b, b]) });

describe("ClipNormalizer", () => {
  test("clip 0 is its own target and comes back unchanged", () => {
    const n = new ClipNormalizer();
    expect(Array.from(n.normalize([pair(0, 255)])[0]!.data)).toEqual([0, 0, 0, 255, 255, 255]);
    expect(n.means).toEqual([0]);
    expect(n.stds[0]).toBeCloseTo(Math.sqrt(6 / 5), 12); // unbiased: 6 values of ±1
  });

  test("clip 1 moves to the mean level and spread of clips 0 and 1", () => {
    // clip 0: values ±1, mean 0, deviation 1. clip 1: bytes 0 and 51 → −1 and −0.6, mean −0.8, deviation 0.2.
    // target mean −0.4, target deviation (1 + 0.2)/2 = 0.6 → −1 and 0.2 → bytes 0 and 1.2·127.5 = 153
    const n = new ClipNormalizer();
    n.normalize([pair(0, 255)]);
    expect(Array.from(n.normalize([pair(0, 51)])[0]!.data)).toEqual([0, 0, 0, 153, 153, 153]);
  });

  test("statistics handed over (a resumed run) act as the clips before", () => {
    const first = new ClipNormalizer();
    first.normalize([pair(0, 255)]);
    const resumed = new ClipNormalizer({ means: first.means, stds: first.stds });
    expect(Array.from(resumed.normalize([pair(0, 51)])[0]!.data)).toEqual([0, 0, 0, 153, 153, 153]);
  });
});
