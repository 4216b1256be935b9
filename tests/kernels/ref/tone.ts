/**
 * Plain TypeScript references for kernels/tone.cu: per-chunk histograms, OpenCV's one-tile CLAHE
 * lookup table (CLAHE_CalcLut_Body: clip, spread the excess, round the scaled cumulative count
 * half to even), and the table applied; and the cases the conformance test runs. Pictures mix a
 * few heavy grey levels (so bins clip) with noise (so the excess has somewhere to go).
 */
import type { KernelCase } from "./case.ts";

const BINS = 256;

/** One tile's lookup table from a channel's histogram of `pixels` values under clip `limit`. */
export function claheLutRef(histogram: ArrayLike<number>, pixels: number, limit: number): Uint8Array {
  const hist = Float64Array.from(histogram);
  let clipped = 0;
  for (let i = 0; i < BINS; i++) {
    if (hist[i]! > limit) {
      clipped += hist[i]! - limit;
      hist[i] = limit;
    }
  }
  const batch = Math.trunc(clipped / BINS);
  let residual = clipped - batch * BINS;
  for (let i = 0; i < BINS; i++) hist[i]! += batch;
  if (residual > 0) {
    const step = Math.max(Math.trunc(BINS / residual), 1);
    for (let i = 0; i < BINS && residual > 0; i += step, residual--) hist[i]!++;
  }
  const lut = new Uint8Array(BINS);
  const scale = (BINS - 1) / pixels;
  let sum = 0;
  for (let i = 0; i < BINS; i++) {
    sum += hist[i]!;
    const v = sum * scale;
    const floor = Math.floor(v);
    const rounded = v - floor === 0.5 ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(v);
    lut[i] = Math.min(255, Math.max(0, rounded));
  }
  return lut;
}

/** Channel c's histogram of pixels [from, to) of an rgb24 picture. */
export function histogramRef(rgb: ArrayLike<number>, c: number, from: number, to: number): Float64Array {
  const h = new Float64Array(BINS);
  for (let p = from; p < to; p++) h[rgb[3 * p + c]!]!++;
  return h;
}

/** The clip limit OpenCV derives from clipLimit for one tile of `pixels`. */
export const claheLimit = (clipLimit: number, pixels: number) => Math.max(1, Math.trunc((clipLimit * pixels) / BINS));

function picture(r: { next(): number }, n: number): Float64Array {
  const heavy = [12, 90, 91, 200];
  return Float64Array.from({ length: 3 * n }, () => (r.next() < 0.6 ? heavy[Math.floor(r.next() * heavy.length)]! : Math.floor(r.next() * 256)));
}

const sizes: [n: number, chunk: number][] = [[1, 1], [17, 4], [300, 64], [4096, 4096], [40001, 4096]];

export const toneCases: KernelCase[] = [
  ...sizes.map(([n, chunk]): KernelCase => {
    const chunks = Math.ceil(n / chunk);
    return {
      kernel: "tone_histogram_rgb24",
      params: { n, chunk },
      inputs: (r) => ({ rgb: picture(r, n) }),
      scalars: { n, chunk, chunks },
      outputs: { hist: chunks * 3 * BINS },
      exact: true,
      reference: ({ rgb }) => {
        const out = new Float64Array(chunks * 3 * BINS);
        for (let k = 0; k < chunks; k++) {
          for (let c = 0; c < 3; c++) out.set(histogramRef(rgb!, c, k * chunk, Math.min(n, (k + 1) * chunk)), (k * 3 + c) * BINS);
        }
        return { hist: out };
      },
    };
  }),
  ...([[16, 4, 1.2], [300, 64, 1.2], [40001, 4096, 1.2], [40001, 4096, 4], [102, 102, 1.2], [50, 7, 1000]] as const).map(([n, chunk, clipLimit]): KernelCase => {
    const chunks = Math.ceil(n / chunk);
    const limit = claheLimit(clipLimit, n);
    return {
      kernel: "tone_clahe_lut",
      params: { n, chunks, clipLimit },
      inputs: (r) => {
        const rgb = picture(r, n);
        const hists = new Float64Array(chunks * 3 * BINS);
        for (let k = 0; k < chunks; k++) {
          for (let c = 0; c < 3; c++) hists.set(histogramRef(rgb, c, k * chunk, Math.min(n, (k + 1) * chunk)), (k * 3 + c) * BINS);
        }
        return { hist: hists };
      },
      scalars: { chunks, pixels: n, limit },
      outputs: { lut: 3 * BINS },
      exact: true,
      reference: ({ hist }) => {
        const lut = new Float64Array(3 * BINS);
        for (let c = 0; c < 3; c++) {
          const sum = new Float64Array(BINS);
          for (let k = 0; k < chunks; k++) for (let v = 0; v < BINS; v++) sum[v]! += hist![(k * 3 + c) * BINS + v]!;
          lut.set(claheLutRef(sum, n, limit), c * BINS);
        }
        return { lut };
      },
    };
  }),
  ...[1, 7, 40001].map((n): KernelCase => ({
    kernel: "tone_apply_lut_rgb24",
    params: { n },
    inputs: (r) => ({ rgb: picture(r, n), lut: Float64Array.from({ length: 3 * BINS }, () => Math.floor(r.next() * 256)) }),
    scalars: { n },
    outputs: { out: 3 * n },
    exact: true,
    reference: ({ rgb, lut }) => ({ out: Float64Array.from({ length: 3 * n }, (_, i) => lut![(i % 3) * BINS + rgb![i]!]!) }),
  })),
];
