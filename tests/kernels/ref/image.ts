/**
 * Plain TypeScript references for kernels/image.cu, written from the formulas (SSIM: Wang et al.
 * 2004, uniform window clipped at the borders), and the cases the conformance test runs.
 * Sizes include odd and tiny images so clipping and dropped rows are exercised.
 */
import type { KernelCase } from "./case.ts";

const map = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));

export function lumaRef(rgb: ArrayLike<number>, n: number): Float64Array {
  return map(n, (i) => Math.fround((0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!) / 255));
}

export function downsampleRef(x: ArrayLike<number>, w: number, h: number): Float64Array {
  const ow = Math.floor(w / 2), oh = Math.floor(h / 2);
  return map(ow * oh, (i) => {
    const oy = Math.floor(i / ow), ox = i % ow;
    const at = (xx: number, yy: number) => x[yy * w + xx]!;
    return (at(2 * ox, 2 * oy) + at(2 * ox + 1, 2 * oy) + at(2 * ox, 2 * oy + 1) + at(2 * ox + 1, 2 * oy + 1)) / 4;
  });
}

export function ssimMapRef(a: ArrayLike<number>, b: ArrayLike<number>, w: number, h: number, r: number, c1: number, c2: number): Float64Array {
  return map(w * h, (i) => {
    const y = Math.floor(i / w), x = i % w;
    const px: number[] = [], qx: number[] = [];
    for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
      for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) {
        px.push(a[yy * w + xx]!);
        qx.push(b[yy * w + xx]!);
      }
    }
    const mean = (v: number[]) => v.reduce((s, t) => s + t, 0) / v.length;
    const ma = mean(px), mb = mean(qx);
    // two-pass variances: an independent route from the kernel's one-pass sums
    const va = mean(px.map((p) => (p - ma) ** 2));
    const vb = mean(qx.map((q) => (q - mb) ** 2));
    const cov = mean(px.map((p, k) => (p - ma) * (qx[k]! - mb)));
    return ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
  });
}

const sizes: [number, number][] = [[1, 1], [7, 5], [13, 9], [64, 48], [65, 33]];
const C1 = 1e-4, C2 = 9e-4;

export const imageCases: KernelCase[] = [
  ...sizes.map(([w, h]): KernelCase => ({
    kernel: "rgb24_to_luma_f32",
    params: { w, h },
    inputs: (r) => ({ rgb: map(3 * w * h, () => Math.floor(r.next() * 256)) }),
    scalars: { n: w * h },
    outputs: { out: w * h },
    reference: ({ rgb }) => ({ out: lumaRef(rgb!, w * h) }),
  })),
  ...sizes.filter(([w, h]) => w >= 2 && h >= 2).map(([w, h]): KernelCase => ({
    kernel: "downsample2_f32",
    params: { w, h },
    inputs: (r) => ({ x: r.uniform(w * h) }),
    scalars: { w, h, ow: Math.floor(w / 2), oh: Math.floor(h / 2) },
    outputs: { out: Math.floor(w / 2) * Math.floor(h / 2) },
    reference: ({ x }) => ({ out: downsampleRef(x!, w, h) }),
  })),
  ...sizes.flatMap(([w, h]) =>
    [1, 3].map((radius): KernelCase => ({
      kernel: "ssim_map_f32",
      params: { w, h, r: radius },
      // b = a plus noise: SSIM well inside (0, 1), where a wrong statistic shows
      inputs: (rng) => {
        const a = rng.uniform(w * h);
        const noise = rng.normal(w * h);
        return { a, b: map(w * h, (i) => a[i]! * 0.8 + 0.1 + 0.05 * noise[i]!) };
      },
      scalars: { w, h, r: radius, c1: C1, c2: C2 },
      outputs: { out: w * h },
      nmse: 1e-6,
      reference: ({ a, b }) => ({ out: ssimMapRef(a!, b!, w, h, radius, C1, C2) }),
    })),
  ),
  ...sizes.map(([w, h]): KernelCase => ({
    kernel: "row_sum_f32",
    params: { rows: h, cols: w },
    inputs: (r) => ({ x: r.normal(w * h) }),
    scalars: { rows: h, cols: w },
    outputs: { out: h },
    reference: ({ x }) => ({ out: map(h, (row) => x!.subarray(row * w, (row + 1) * w).reduce((s, v) => s + v, 0)) }),
  })),
];
