import { describe, expect, test } from "bun:test";
import { cdfMatchTable, channelCodes, checkHistMode, HistogramMatcher } from "../../../pipelines/attention-interpolation/histogram-match.ts";
import { syntheticFrame } from "../../../pipelines/attention-interpolation/synthetic-clip.ts";
import { UsageError } from "../../../pipelines/errors.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";

function cdf(codes: Uint8Array): Float64Array {
  const out = new Float64Array(256);
  for (const v of codes) out[v]!++;
  for (let v = 1; v < 256; v++) out[v]! += out[v - 1]!;
  return out.map((c) => c / codes.length);
}
const maxGap = (a: Float64Array, b: Float64Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
/** How far apart two CDFs are when either may run up to `shift` codes late (a Lévy-style gap). */
const levyGap = (a: Float64Array, b: Float64Array, shift: number) =>
  Math.max(0, ...a.map((v, i) => Math.max(v - b[Math.min(255, i + shift)]!, b[i]! - a[Math.min(255, i + shift)]!)));

/** A colour-shifted, contrast-changed version of a frame: what drifting generations look like. */
function recoloured(f: Frame): Frame {
  const data = f.data.map((v, i) => Math.min(255, Math.max(0, Math.round([0.7, 1.2, 0.9][i % 3]! * v + [30, -20, 10][i % 3]!))));
  return { ...f, data };
}

describe("histogram matching to frame 0", () => {
  const reference = syntheticFrame(0, { width: 96, height: 64 });
  const later = recoloured(syntheticFrame(8, { width: 96, height: 64 }));

  for (const mode of ["lab", "rgb"] as const) {
    test(`in ${mode}: each channel's CDF of the matched frame is close to frame 0's`, () => {
      const matched = new HistogramMatcher(reference, mode).match(later);
      const want = channelCodes(reference, mode).map(cdf);
      const before = channelCodes(later, mode).map(cdf);
      const after = channelCodes(matched, mode).map(cdf);
      for (let c = 0; c < 3; c++) {
        // LAB → RGB → LAB rounds by a few codes and clips out-of-gamut colours (2 % of pixels here)
        expect(levyGap(after[c]!, want[c]!, mode === "lab" ? 3 : 0)).toBeLessThan(0.03);
        expect(levyGap(after[c]!, want[c]!, mode === "lab" ? 3 : 0)).toBeLessThan(maxGap(before[c]!, want[c]!) / 4);
      }
    });
  }

  test("matching frame 0 to itself leaves it (nearly) unchanged", () => {
    const same = new HistogramMatcher(reference, "lab").match(reference);
    const worst = Math.max(...same.data.map((v, i) => Math.abs(v - reference.data[i]!)));
    expect(worst).toBeLessThanOrEqual(1);
  });

  test("the CDF table maps a source's quantiles onto the template's values (hand-worked)", () => {
    // source: 2×0, 2×10 (quantiles 0.5, 1); template: 1×100, 3×200 (quantiles 0.25, 1)
    const table = cdfMatchTable(Uint8Array.of(0, 0, 10, 10), Uint8Array.of(100, 200, 200, 200));
    // 0.5 lies 1/3 of the way from 0.25 to 1 → 100 + 100/3
    expect(table[0]!).toBeCloseTo(100 + 100 / 3, 4);
    expect(table[10]).toBe(200);
  });

  test("an unknown mode names the choices", () => {
    expect(() => checkHistMode("hsv")).toThrow(UsageError);
    expect(() => checkHistMode("hsv")).toThrow(/lab, rgb, none/);
  });
});
