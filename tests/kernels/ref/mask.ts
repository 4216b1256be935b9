/**
 * Plain TypeScript references for kernels/mask.cu (the thresholded nearest mask, the blanked
 * picture, the kept-region paste), and the cases the conformance test runs. Mask pictures are
 * drawn from a few grey levels around the threshold (127, 128) so both sides of it are hit.
 */
import type { KernelCase } from "./case.ts";

const map = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));

/** Luma ≥ ½ of full scale, in the real numbers: 0.299 R + 0.587 G + 0.114 B ≥ 127.5. */
export function maskNearestRef(rgb: ArrayLike<number>, sw: number, sh: number, w: number, h: number): Float64Array {
  return map(w * h, (i) => {
    const y = Math.floor(i / w), x = i % w;
    const p = 3 * (Math.floor((y * sh) / h) * sw + Math.floor((x * sw) / w));
    return 299 * rgb[p]! + 587 * rgb[p + 1]! + 114 * rgb[p + 2]! >= 127500 ? 1 : 0;
  });
}

const levels = [0, 127, 128, 255, 200, 40];
// Up-, down- and odd resizes; 40401 pixels reach the CPU backend's threaded path.
const resizes: [number, number, number, number][] = [[1, 1, 1, 1], [7, 5, 3, 2], [16, 16, 2, 2], [5, 3, 20, 12], [33, 17, 33, 17], [201, 201, 201, 201]];
const sizes = [1, 7, 257, 40001];

export const maskCases: KernelCase[] = [
  ...resizes.map(([sw, sh, w, h]): KernelCase => ({
    kernel: "mask_threshold_nearest_f32",
    params: { sw, sh, w, h },
    inputs: (r) => {
      // grey pixels mostly, some coloured, so each channel's weight matters
      const rgb = new Float64Array(3 * sw * sh);
      for (let i = 0; i < sw * sh; i++) {
        const g = levels[Math.floor(r.next() * levels.length)]!;
        const colour = r.next() < 0.3;
        for (let c = 0; c < 3; c++) rgb[3 * i + c] = colour ? Math.floor(r.next() * 256) : g;
      }
      return { rgb };
    },
    scalars: { sw, sh, w, h },
    outputs: { out: w * h },
    exact: true,
    reference: ({ rgb }) => ({ out: maskNearestRef(rgb!, sw, sh, w, h) }),
  })),
  ...sizes.map((n): KernelCase => ({
    kernel: "mask_fill_rgb24",
    params: { n, value: 128 },
    inputs: (r) => ({ rgb: map(3 * n, () => Math.floor(r.next() * 256)), mask: map(n, (i) => (i % 3 === 0 ? 0.5 : r.next() < 0.5 ? 1 : 0.25)) }),
    scalars: { value: 128, n },
    outputs: { out: 3 * n },
    exact: true,
    reference: ({ rgb, mask }) => ({ out: map(3 * n, (i) => (mask![Math.floor(i / 3)]! >= 0.5 ? 128 : rgb![i]!)) }),
  })),
  ...([[1, 1], [4, 9], [8, 64], [2, 20000]] as const).map(([lead, hw]): KernelCase => ({
    kernel: "mask_paste_f32",
    params: { lead, hw },
    inputs: (r) => ({
      x: r.normal(lead * hw),
      keep: r.normal(lead * hw),
      // binary masks in practice; fractional values check the formula
      mask: map(hw, (i) => (i % 4 === 3 ? r.next() : i % 2)),
    }),
    scalars: { hw, n: lead * hw },
    outputs: { out: lead * hw },
    reference: ({ x, keep, mask }) => ({ out: map(lead * hw, (i) => keep![i]! + mask![i % hw]! * (x![i]! - keep![i]!)) }),
  })),
];
