import { describe, expect, test } from "bun:test";
import { chromaSize, rgbToYuv, yuvFrameBytes, yuvToRgb, type ChromaLayout, type YuvOptions } from "../../../pipelines/io/yuv-rgb.ts";

function toYuv(rgb: number[], width: number, height: number, layout: ChromaLayout, opts: YuvOptions = {}): number[] {
  const out = new Uint8Array(yuvFrameBytes(layout, width, height));
  rgbToYuv(Uint8Array.from(rgb), width, height, layout, opts, out);
  return [...out];
}

function toRgb(yuv: number[], width: number, height: number, layout: ChromaLayout, opts = {}): number[] {
  const out = new Uint8Array(width * height * 3);
  yuvToRgb(Uint8Array.from(yuv), width, height, layout, opts, out);
  return [...out];
}

describe("rgb to yuv", () => {
  // Textbook 8-bit values (BT.601: Poynton, "Digital Video and HD", table 29.1; JFIF for full range).
  describe("with BT.601 limited range", () => {
    test.each([
      ["white", [255, 255, 255], [235, 128, 128]],
      ["black", [0, 0, 0], [16, 128, 128]],
      ["red", [255, 0, 0], [81, 90, 240]],
      ["green", [0, 255, 0], [145, 54, 34]],
      ["blue", [0, 0, 255], [41, 240, 110]],
    ])("maps %s to the textbook code values", (_name, rgb, yuv) => {
      expect(toYuv(rgb, 1, 1, "444")).toEqual(yuv);
    });
  });

  test("maps red to 63, 102, 240 with BT.709 limited range", () => {
    expect(toYuv([255, 0, 0], 1, 1, "444", { matrix: "bt709" })).toEqual([63, 102, 240]);
  });

  test("maps red to 76, 85, 255 with BT.601 full range (JFIF)", () => {
    expect(toYuv([255, 0, 0], 1, 1, "444", { range: "full" })).toEqual([76, 85, 255]);
  });

  describe("at 4:2:0 with an odd size", () => {
    // 3x3: chroma is 2x2; blocks hold 4, 2, 2 and 1 pixels.
    const rgb: number[] = [];
    for (let i = 0; i < 9; i++) rgb.push((i * 37) % 256, (i * 91) % 256, (i * 13 + 40) % 256);
    const yuv = toYuv(rgb, 3, 3, "420");

    test("has ceil(w/2) x ceil(h/2) chroma planes", () => {
      expect(chromaSize("420", 3, 3)).toEqual({ width: 2, height: 2 });
      expect(yuv.length).toBe(9 + 2 * 4);
    });

    test("averages each block's own pixels' chroma before rounding", () => {
      // Independent reference: per-pixel BT.601 Cb/Cr from the standard's formula, averaged.
      const cb = (r: number, g: number, b: number) => (224 * (b - (0.299 * r + 0.587 * g + 0.114 * b))) / (255 * 1.772);
      const cr = (r: number, g: number, b: number) => (224 * (r - (0.299 * r + 0.587 * g + 0.114 * b))) / (255 * 1.402);
      const blocks = [[0, 1, 3, 4], [2, 5], [6, 7], [8]];
      const px = (i: number) => [rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!] as const;
      const mean = (f: typeof cb, idx: number[]) => idx.reduce((s, i) => s + f(...px(i)), 0) / idx.length;
      expect(yuv.slice(9, 13)).toEqual(blocks.map((b) => Math.round(128 + mean(cb, b))));
      expect(yuv.slice(13, 17)).toEqual(blocks.map((b) => Math.round(128 + mean(cr, b))));
    });
  });
});

describe("yuv to rgb", () => {
  test("maps limited-range white and black back exactly", () => {
    expect(toRgb([235, 128, 128], 1, 1, "444")).toEqual([255, 255, 255]);
    expect(toRgb([16, 128, 128], 1, 1, "444")).toEqual([0, 0, 0]);
  });

  test("clamps out-of-gamut codes to 0..255", () => {
    expect(toRgb([255, 128, 128], 1, 1, "444")).toEqual([255, 255, 255]);
    expect(toRgb([0, 128, 128], 1, 1, "444")).toEqual([0, 0, 0]);
    // White luma with maximal Cr: R overflows and clamps, G drops by 2·Kr(1−Kr)/Kg · 255/224 · 127.
    const g = Math.round(255 - ((2 * 0.299 * 0.701) / 0.587) * (255 / 224) * 127);
    expect(toRgb([235, 128, 255], 1, 1, "444")).toEqual([255, g, 255]);
  });

  test("maps mono to grey", () => {
    expect(toRgb([126, 235], 2, 1, "mono")).toEqual([128, 128, 128, 255, 255, 255]);
  });

  describe("upsampling 4:2:0 chroma", () => {
    // 4x2 luma of 100, chroma 2x1 with Cb = 100, 200 and Cr neutral; full range so B = Y + 1.772(Cb − 128).
    const yuv = [...Array(8).fill(100), 100, 200, 128, 128];
    const blue = (cb: number) => Math.round(100 + 1.772 * (cb - 128));
    const green = (cb: number) => Math.round(100 - ((2 * 0.114 * 0.886) / 0.587) * (cb - 128));
    const row = (cbs: number[]) => cbs.flatMap((cb) => [100, green(cb), blue(cb)]);

    test("bilinearly, weights centred chroma 3:1 toward the nearer sample", () => {
      const cbs = [100, 125, 175, 200];
      expect(toRgb(yuv, 4, 2, "420", { range: "full" })).toEqual([...row(cbs), ...row(cbs)]);
    });

    test("bilinearly with left siting, lands odd columns halfway", () => {
      const cbs = [100, 150, 200, 200];
      expect(toRgb(yuv, 4, 2, "420", { range: "full", siting: "left" })).toEqual([...row(cbs), ...row(cbs)]);
    });

    test("by nearest neighbour, repeats each sample twice", () => {
      const cbs = [100, 100, 200, 200];
      expect(toRgb(yuv, 4, 2, "420", { range: "full", upsample: "nearest" })).toEqual([...row(cbs), ...row(cbs)]);
    });
  });

  describe("after rgb to yuv at 4:4:4 over the whole RGB cube (every 3rd level)", () => {
    const levels = Array.from({ length: 86 }, (_, i) => i * 3);
    const n = levels.length ** 3;
    const rgb = new Uint8Array(n * 3);
    let p = 0;
    for (const r of levels) for (const g of levels) for (const b of levels) rgb.set([r, g, b], 3 * p++);

    function worst(opts: YuvOptions): number {
      const yuv = new Uint8Array(yuvFrameBytes("444", n, 1));
      rgbToYuv(rgb, n, 1, "444", opts, yuv);
      const back = new Uint8Array(n * 3);
      yuvToRgb(yuv, n, 1, "444", opts, back);
      let max = 0;
      for (let i = 0; i < back.length; i++) max = Math.max(max, Math.abs(back[i]! - rgb[i]!));
      return max;
    }

    test("is within 1 level at full range", () => {
      expect(worst({ range: "full" })).toBeLessThanOrEqual(1);
      expect(worst({ range: "full", matrix: "bt709" })).toBeLessThanOrEqual(1);
    });

    // 8-bit limited range has 219 luma codes for 256 levels; a few saturated colours land 2 off.
    test("is within 2 levels at limited range", () => {
      expect(worst({})).toBeLessThanOrEqual(2);
      expect(worst({ matrix: "bt709" })).toBeLessThanOrEqual(2);
    });
  });
});
