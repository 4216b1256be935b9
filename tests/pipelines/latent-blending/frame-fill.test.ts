import { describe, expect, test } from "bun:test";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { allocateInbetweens, crossfade, fillGaps, framesPerTransition } from "../../../pipelines/latent-blending/frame-fill.ts";

const solid = (v: number): Frame => ({ width: 2, height: 1, data: new Uint8Array(6).fill(v) });

describe("allocateInbetweens", () => {
  test("always hands out exactly the missing frames", () => {
    for (const missing of [0, 1, 7, 60, 61]) {
      for (const w of [[1], [1, 1, 1], [0.2, 0.5, 0.1, 0.9], [0, 0, 0]]) {
        const counts = allocateInbetweens(w, missing);
        expect(counts.length).toBe(w.length);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(missing);
      }
    }
  });

  test("equal weights split evenly, the extra frames going to the earliest gaps", () => {
    expect(allocateInbetweens([1, 1, 1, 1], 10)).toEqual([3, 3, 2, 2]);
  });

  test("weights split by largest remainder, deterministic", () => {
    // shares 2.5, 5, 2.5 → floors 2, 5, 2; one left, tie → earlier gap
    expect(allocateInbetweens([1, 2, 1], 10)).toEqual([3, 5, 2]);
    expect(allocateInbetweens([1, 2, 1], 10)).toEqual(allocateInbetweens([1, 2, 1], 10));
  });
});

describe("fillGaps", () => {
  test("gives fps·duration frames whose first and last are the keyframes", () => {
    const images = [solid(0), solid(100), solid(200)];
    const total = framesPerTransition(24, 3, images.length);
    const counts = allocateInbetweens([1, 1], total - images.length);
    const frames = [...fillGaps(images, counts)];
    expect(frames.length).toBe(72);
    expect(frames[0]).toBe(images[0]!);
    expect(frames.at(-1)).toBe(images[2]!);
    // monotone ramp through the middle image
    const values = frames.map((f) => f.data[0]!);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(frames).toContain(images[1]!);
  });

  test("skipFirst leaves out the shared keyframe of a join", () => {
    const frames = [...fillGaps([solid(0), solid(10)], [3], true)];
    expect(frames.map((f) => f.data[0])).toEqual([3, 5, 8, 10]);
  });

  test("crossfade at linspace(0, 1, k + 2) interior points, rounded half up", () => {
    expect(crossfade(solid(0), solid(255), 0.5).data[0]).toBe(128);
    expect(crossfade(solid(10), solid(20), 0).data[0]).toBe(10);
    expect(crossfade(solid(10), solid(20), 1).data[0]).toBe(20);
  });

  test("a movie shorter than the diffused images keeps every diffused image", () => {
    expect(framesPerTransition(1, 1, 5)).toBe(5);
  });
});
