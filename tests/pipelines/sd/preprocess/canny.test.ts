import { describe, expect, test } from "bun:test";
import type { Frame } from "../../../../pipelines/io/frame.ts";
import { CpuBackend } from "../../../../pipelines/runtime/cpu-backend.ts";
import { canny, cannyTensor, gaussianTaps5 } from "../../../../pipelines/sd/preprocess/canny.ts";
import { gradientRef, grayRef, hysteresisRef, nmsRef, gaussianTaps } from "../../../kernels/ref/edges.ts";
import { TestRng } from "../../../kernels/ref/case.ts";

const backend = new CpuBackend();

function makeFrame(width: number, height: number, grey: (x: number, y: number) => number): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.fill(Math.round(grey(x, y)), 3 * (y * width + x), 3 * (y * width + x) + 3);
  return { width, height, data };
}

/** Edge pixels as [x, y]. */
function edgePixels(f: Frame): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < f.width * f.height; i++) if (f.data[3 * i] === 255) out.push([i % f.width, Math.floor(i / f.width)]);
  return out;
}

// a gentle horizontal ramp (Sobel magnitude 8 per step of 1, far below the low threshold) under a bright shape
const ramp = (x: number) => 40 + x;
const W = 64, H = 48;
const rect = { x0: 16, x1: 44, y0: 12, y1: 36 }; // filled for x0 ≤ x < x1, y0 ≤ y < y1
const inRect = (x: number, y: number) => x >= rect.x0 && x < rect.x1 && y >= rect.y0 && y < rect.y1;
const rectangle = makeFrame(W, H, (x, y) => (inRect(x, y) ? 220 : ramp(x)));

describe("canny", () => {
  describe("on a filled rectangle over a gradient", () => {
    const edges = canny(rectangle, backend, { blurSigma: 0 });
    const pixels = edgePixels(edges);

    test("finds edges only on the boundary, one pixel either side of it at most", () => {
      const nearBoundary = ([x, y]: [number, number]) => {
        const dx = Math.min(Math.abs(x - rect.x0), Math.abs(x - (rect.x1 - 1)));
        const dy = Math.min(Math.abs(y - rect.y0), Math.abs(y - (rect.y1 - 1)));
        const insideSpanX = x >= rect.x0 - 1 && x <= rect.x1, insideSpanY = y >= rect.y0 - 1 && y <= rect.y1;
        return (dx <= 1 && insideSpanY) || (dy <= 1 && insideSpanX);
      };
      expect(pixels.length).toBeGreaterThan(0);
      expect(pixels.filter((p) => !nearBoundary(p))).toEqual([]);
    });

    test("finds none inside the shape or on the gradient", () => {
      const interior = pixels.filter(([x, y]) => x > rect.x0 + 1 && x < rect.x1 - 2 && y > rect.y0 + 1 && y < rect.y1 - 2);
      const outside = pixels.filter(([x, y]) => x < rect.x0 - 1 || x > rect.x1 || y < rect.y0 - 1 || y > rect.y1);
      expect([interior.length, outside.length]).toEqual([0, 0]);
    });

    test("closes every side: each row of a vertical side and each column of a horizontal side has an edge", () => {
      const has = (pred: (p: [number, number]) => boolean) => pixels.some(pred);
      const missing: string[] = [];
      for (let y = rect.y0 + 1; y < rect.y1 - 1; y++) {
        if (!has(([x, yy]) => yy === y && Math.abs(x - rect.x0) <= 1)) missing.push(`left y=${y}`);
        if (!has(([x, yy]) => yy === y && Math.abs(x - (rect.x1 - 1)) <= 1)) missing.push(`right y=${y}`);
      }
      for (let x = rect.x0 + 1; x < rect.x1 - 1; x++) {
        if (!has(([xx, y]) => xx === x && Math.abs(y - rect.y0) <= 1)) missing.push(`top x=${x}`);
        if (!has(([xx, y]) => xx === x && Math.abs(y - (rect.y1 - 1)) <= 1)) missing.push(`bottom x=${x}`);
      }
      expect(missing).toEqual([]);
    });

    test("gives a thin line: no side is two pixels thick", () => {
      const row = pixels.filter(([, y]) => y === 20).map(([x]) => x);
      expect(row.length).toBe(2);
    });

    test("is three identical channels of 0 or 255", () => {
      for (let i = 0; i < W * H; i++) {
        const v = edges.data[3 * i]!;
        expect(v === 0 || v === 255).toBe(true);
        expect([edges.data[3 * i + 1], edges.data[3 * i + 2]]).toEqual([v, v]);
      }
    });
  });

  describe("on a filled circle over a gradient, blurred (the default)", () => {
    const cx = 31.5, cy = 23.5, r = 14;
    const circle = makeFrame(W, H, (x, y) => (Math.hypot(x - cx, y - cy) <= r ? 230 : ramp(x)));
    const pixels = edgePixels(canny(circle, backend));

    test("puts every edge pixel within 1.5 pixels of the circle", () => {
      const far = pixels.filter(([x, y]) => Math.abs(Math.hypot(x - cx, y - cy) - r) > 1.5);
      expect(far).toEqual([]);
    });

    test("goes all the way round", () => {
      const angles = new Set(pixels.map(([x, y]) => Math.floor(((Math.atan2(y - cy, x - cx) + Math.PI) / (2 * Math.PI)) * 36) % 36));
      expect(angles.size).toBe(36);
    });
  });

  describe("thresholds", () => {
    test("a high threshold above every gradient leaves no edges", () => {
      expect(edgePixels(canny(rectangle, backend, { blurSigma: 0, low: 50, high: 5000 }))).toEqual([]);
    });

    // Two vertical steps. At x = 16 the contrast is 100 (magnitude 400, strong) in rows 0–9, where
    // a bright block spans x 16–29, and 20 (magnitude 80, weak) below. At x = 40 it is 20 all along.
    const steps = makeFrame(W, H, (x, y) => 100 + (x >= 16 ? 20 : 0) + (x >= 16 && x < 30 && y < 10 ? 80 : 0) + (x >= 40 ? 20 : 0));
    const column = (pixels: [number, number][], x0: number) => new Set(pixels.filter(([x]) => Math.abs(x - x0) <= 1).map(([, y]) => y));

    for (const hysteresis of ["fill", "sweeps"] as const) {
      test(`hysteresis (${hysteresis}) keeps a weak edge joined to a strong one and drops an isolated weak one`, () => {
        const result = cannyTensor(steps, backend, { blurSigma: 0, hysteresis });
        const pixels = edgePixels({ width: W, height: H, data: result.image.read() as Uint8Array });
        result.image.dispose();
        expect([column(pixels, 16).size, column(pixels, 40).size]).toEqual([H, 0]);
        // the weak run below row 10 lies along a column: the first column sweep promotes it
        // whole, and the pass after it finds nothing left to promote
        if (hysteresis === "sweeps") expect(result.passes).toBeLessThanOrEqual(3);
      });
    }

    test("the sweeps reach the flood fill's result on curved edges", () => {
      // a disc whose right half has a strong rim and left half a weak one, joined at top and bottom
      const disc = makeFrame(W, H, (x, y) => (Math.hypot(x - W / 2, y - H / 2) < 20 ? (x >= W / 2 ? 200 : 120) : 100));
      const [fill, sweeps] = (["fill", "sweeps"] as const).map((hysteresis) => {
        const r = cannyTensor(disc, backend, { blurSigma: 0, hysteresis });
        const data = r.image.read() as Uint8Array;
        r.image.dispose();
        return { width: W, height: H, data };
      });
      expect(Buffer.compare(fill!.data, sweeps!.data)).toBe(0);
      // the weak left rim was promoted through the curve
      expect(edgePixels(fill!).filter(([x]) => x < W / 2 - 10).length).toBeGreaterThan(10);
    });

    test("raising the low threshold above the weak edges cuts them off", () => {
      const pixels = edgePixels(canny(steps, backend, { blurSigma: 0, low: 100 }));
      expect([...column(pixels, 16)].every((y) => y <= 10)).toBe(true);
      expect(column(pixels, 16).size).toBeGreaterThan(8);
    });

    test("lowering the high threshold under the weak edges makes the isolated one an edge", () => {
      const pixels = edgePixels(canny(steps, backend, { blurSigma: 0, low: 20, high: 60 }));
      expect(column(pixels, 40).size).toBe(H);
    });

    test("out-of-order thresholds are refused", () => {
      expect(() => canny(rectangle, backend, { low: 100, high: 50 })).toThrow("canny thresholds low 100 and high 50 must satisfy 0 ≤ low ≤ high");
    });
  });

  describe("against the plain-TS pipeline (grey, Sobel, NMS, flood-fill hysteresis)", () => {
    for (const [w, h] of [[1, 1], [9, 7], [61, 37]] as const) {
      test(`gives the same edges on a ${w}x${h} picture with blobs and noise`, () => {
        const rng = new TestRng(w * 100 + h);
        const blobs = Array.from({ length: 4 }, () => [rng.next() * w, rng.next() * h, 2 + rng.next() * 8, rng.next() * 200] as const);
        const frame = makeFrame(w, h, (x, y) => {
          const v = blobs.reduce((s, [bx, by, br, bv]) => (Math.hypot(x - bx, y - by) < br ? bv : s), 30 + x) + rng.next() * 30;
          return Math.min(255, v);
        });
        const gray = grayRef(frame.data, w * h);
        const { mag, dir } = gradientRef(gray, w, h, false);
        const want = hysteresisRef(nmsRef(mag, dir, w, h, 50, 200), w, h);
        const got = canny(frame, backend, { blurSigma: 0 });
        expect(Array.from({ length: w * h }, (_, i) => got.data[3 * i]!)).toEqual(Array.from(want, (s) => (s === 2 ? 255 : 0)));
      });
    }
  });

  test("blurs with normalised Gaussian taps equal to the reference's", () => {
    const taps = gaussianTaps5(1.1);
    expect(taps[0] + 2 * taps[1] + 2 * taps[2]).toBeCloseTo(1, 12);
    expect(taps).toEqual(gaussianTaps(1.1));
  });
});
