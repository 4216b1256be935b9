/**
 * combine_pattern and the smoother schedule against the spec's own worked examples
 * (shared/specs/diffsynth.md, "Test ideas" 1 and 5), and the crop rule of §1 by hand.
 */
import { describe, expect, test } from "bun:test";
import { UsageError } from "../../../../pipelines/errors.ts";
import { chunkSourceIds, combineSources, contentShuffle, cropResize, generationSize, parsePattern, smootherSteps } from "../../../../pipelines/stylize/diffsynth/index.ts";

const frames = (i: number, n: number, p: (number | string)[]) => combineSources(i, n, parsePattern(p, 1)).map((s) => (s.kind === "frame" ? s.index : `r${s.index}`));

describe("combine_pattern", () => {
  test("n = 5, [-10000, -1, 0, 1]: frame 0 attends over [0, 0, 0, 1], frame 4 over [0, 3, 4, 4]", () => {
    expect(frames(0, 5, [-10000, -1, 0, 1])).toEqual([0, 0, 0, 1]);
    expect(frames(4, 5, [-10000, -1, 0, 1])).toEqual([0, 3, 4, 4]);
  });

  test("reference_k names the k-th reference image, offsets given as strings become numbers", () => {
    expect(frames(2, 5, ["reference_0", "-1", "0", "+1"])).toEqual(["r0", 1, 2, 3]);
  });

  test("a pattern without 0, an unknown reference or a word is a UsageError naming it", () => {
    expect(() => parsePattern([-1, 1], 0)).toThrow(/lacks 0/);
    expect(() => parsePattern([0, "reference_1"], 1)).toThrow(/reference_1 but 1 reference image is given/);
    expect(() => parsePattern([0, "left"], 0)).toThrow(UsageError);
    expect(() => parsePattern([], 0)).toThrow(/empty/);
  });
});

describe("combine_pattern across chunks", () => {
  const p = parsePattern([-10000, -1, 0, 1], 0);
  test("the first chunk is the clip: the same frames as combineSources", () => {
    expect(chunkSourceIds(0, 4, 0, p)).toEqual(["f0", "f0", "f0", "f1"]);
    expect(chunkSourceIds(3, 4, 0, p)).toEqual(["f0", "f2", "f3", "f3"]);
  });

  test("a later chunk: frame 0 is the carried anchor a, the frame before the chunk the carried c", () => {
    const carried = { anchor: true, last: true };
    // chunk of 4 starting at clip frame 8: its frame 0 looks back at 7 (c), forward at 9 (f1)
    expect(chunkSourceIds(0, 4, 8, p, carried)).toEqual(["a", "c", "f0", "f1"]);
    expect(chunkSourceIds(3, 4, 8, p, carried)).toEqual(["a", "f2", "f3", "f3"]);
    // without an anchor the nearest carried frame stands in; without any, the chunk's first
    expect(chunkSourceIds(0, 4, 8, p, { anchor: false, last: true })).toEqual(["c", "c", "f0", "f1"]);
    expect(chunkSourceIds(0, 4, 8, p)).toEqual(["f0", "f0", "f0", "f1"]);
  });
});

describe("the in-loop smoother schedule", () => {
  test("N = 20, interval 5, ignore 0 → steps 0, 5, 10, 15; interval 1, ignore 1 → 0…18", () => {
    expect(smootherSteps(20, 5, 0)).toEqual([0, 5, 10, 15]);
    expect(smootherSteps(20, 1, 1)).toEqual(Array.from({ length: 19 }, (_, i) => i));
  });
});

describe("frames to the generation size", () => {
  test("sizes floor to multiples of 8; too small is a UsageError", () => {
    expect(generationSize({ width: 101, height: 67 })).toEqual({ width: 96, height: 64 });
    expect(generationSize({ width: 101, height: 67 }, { width: 40, height: 16 })).toEqual({ width: 40, height: 16 });
    expect(() => generationSize({ width: 7, height: 64 })).toThrow(UsageError);
    // a UNet with attention two halvings down needs 8·4 = 32
    expect(generationSize({ width: 72, height: 100 }, null, 32)).toEqual({ width: 64, height: 96 });
  });

  test("a wider frame is centre-cropped to the aspect before resizing: 6×2 → 2×2 keeps columns 2 and 3", () => {
    // columns 0…5 carry values 0, 10, …, 50 in every channel
    const data = new Uint8Array(6 * 2 * 3).map((_, k) => 10 * (Math.floor(k / 3) % 6));
    const out = cropResize({ width: 6, height: 2, data }, 2, 2);
    expect(Array.from(out.data.filter((_, k) => k % 3 === 0))).toEqual([20, 30, 20, 30]);
  });
});

describe("the shuffle processor", () => {
  test("moves pixels (every output colour is an input one), the same way for the same seed", () => {
    // 32×32, every pixel a distinct colour
    const data = new Uint8Array(32 * 32 * 3).map((_, k) => (k % 3 === 2 ? 7 : k % 3 === 0 ? Math.floor(k / 3) % 32 : Math.floor(k / 96)));
    const image = { width: 32, height: 32, data };
    const a = contentShuffle(image, 0), b = contentShuffle(image, 0), c = contentShuffle(image, 1);
    expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.data), Buffer.from(c.data))).not.toBe(0);
    expect(Buffer.compare(Buffer.from(a.data), Buffer.from(data))).not.toBe(0);
    const colours = new Set(Array.from({ length: 1024 }, (_, p) => data.subarray(3 * p, 3 * p + 3).join()));
    for (let p = 0; p < 1024; p++) expect(colours.has(a.data.subarray(3 * p, 3 * p + 3).join())).toBe(true);
  });
});
