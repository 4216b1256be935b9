/**
 * Plain TypeScript references for kernels/blend.cu, written straight from the formulas (f32
 * results via Math.fround, halves via Float16Array), and the cases the conformance test runs.
 */
import type { KernelCase } from "./case.ts";

const f16 = (x: number) => Math.f16round(x);

function rowSlerp(a: Float64Array, b: Float64Array, t: number, threshold: number, cols: number, half: boolean) {
  const out = new Float64Array(a.length);
  for (let r = 0; r < a.length / cols; r++) {
    let ab = 0, aa = 0, bb = 0;
    for (let c = 0; c < cols; c++) {
      const x = a[r * cols + c]!, y = b[r * cols + c]!;
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    const dot = ab / (Math.sqrt(aa) * Math.sqrt(bb));
    let ca = 1 - t, cb = t;
    if (Math.abs(dot) <= threshold) {
      const theta = Math.acos(dot);
      ca = Math.sin((1 - t) * theta) / Math.sin(theta);
      cb = Math.sin(t * theta) / Math.sin(theta);
    }
    for (let c = 0; c < cols; c++) {
      const v = ca * a[r * cols + c]! + cb * b[r * cols + c]!;
      out[r * cols + c] = half ? f16(v) : v;
    }
  }
  return out;
}

// 40001 is above the CPU backend's serial threshold (ffi/cpu/compile.ts SERIAL_BELOW): it runs the OpenMP chunks.
const sizes = [1, 7, 255, 257, 1000, 4099, 40001];
const map = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));

export const blendCases: KernelCase[] = [
  ...(["f32", "f16"] as const).flatMap((d) =>
    sizes.flatMap((n) =>
      [0, 0.3, 1].map((t): KernelCase => ({
        kernel: `lerp_${d}`,
        params: { n, t },
        inputs: (r) => ({ a: r.normal(n), b: r.normal(n) }),
        scalars: { t, n },
        outputs: { out: n },
        reference: ({ a, b }) => ({ out: map(n, (i) => a![i]! + t * (b![i]! - a![i]!)) }),
      })),
    ),
  ),
  ...(["f32", "f16"] as const).flatMap((d) =>
    sizes.map((n): KernelCase => ({
      kernel: `lerp_weighted_${d}`,
      params: { n },
      inputs: (r) => ({ a: r.normal(n), b: r.normal(n), w: r.uniform(n) }),
      scalars: { n },
      outputs: { out: n },
      reference: ({ a, b, w }) => ({ out: map(n, (i) => a![i]! + w![i]! * (b![i]! - a![i]!)) }),
    })),
  ),
  ...(["f32", "f16"] as const).flatMap((d) =>
    sizes.map((n): KernelCase => ({
      kernel: `axpby_${d}`,
      params: { n, alpha: 0.7, beta: -1.25 },
      inputs: (r) => ({ x: r.normal(n), y: r.normal(n) }),
      scalars: { alpha: 0.7, beta: -1.25, n },
      outputs: { out: n },
      reference: ({ x, y }) => ({ out: map(n, (i) => 0.7 * x![i]! - 1.25 * y![i]!) }),
    })),
  ),
  ...sizes.map((n): KernelCase => ({
    kernel: "axpbypcz_f32",
    params: { n },
    inputs: (r) => ({ x: r.normal(n), y: r.normal(n), z: r.normal(n) }),
    scalars: { alpha: 0.5, beta: 2, gamma: -0.25, n },
    outputs: { out: n },
    reference: ({ x, y, z }) => ({ out: map(n, (i) => 0.5 * x![i]! + 2 * y![i]! - 0.25 * z![i]!) }),
  })),
  ...sizes.map((n): KernelCase => ({
    kernel: "scale_f32",
    params: { n },
    inputs: (r) => ({ x: r.normal(n) }),
    scalars: { alpha: -3.5, n },
    outputs: { out: n },
    reference: ({ x }) => ({ out: map(n, (i) => -3.5 * x![i]!) }),
  })),
  ...sizes.map((n): KernelCase => ({
    kernel: "add_f32",
    params: { n },
    inputs: (r) => ({ x: r.normal(n), y: r.normal(n) }),
    scalars: { n },
    outputs: { out: n },
    reference: ({ x, y }) => ({ out: map(n, (i) => x![i]! + y![i]!) }),
  })),
  ...[1.5, Number.POSITIVE_INFINITY].flatMap((value) =>
    sizes.map((n): KernelCase => ({
      kernel: "fill_f32",
      params: { n, value },
      inputs: () => ({}),
      scalars: { value, n },
      outputs: { out: n },
      reference: () => ({ out: map(n, () => value) }),
    })),
  ),
  ...sizes.map((n): KernelCase => ({
    kernel: "clamp_f32",
    params: { n, lo: -1, hi: 0.5 },
    inputs: (r) => ({ x: r.normal(n) }),
    scalars: { lo: -1, hi: 0.5, n },
    outputs: { out: n },
    exact: true,
    reference: ({ x }) => ({ out: map(n, (i) => Math.min(0.5, Math.max(-1, x![i]!))) }),
  })),
  ...sizes.map((n): KernelCase => ({
    kernel: "f32_to_f16",
    params: { n },
    // wide range: overflow to Inf, subnormals, ties
    inputs: (r) => ({ x: map(n, (i) => (i % 5 === 0 ? 70000 * (i % 2 ? 1 : -1) : r.normal(1)[0]! * 2 ** ((i % 40) - 25))) }),
    scalars: { n },
    outputs: { out: n },
    exact: true,
    reference: ({ x }) => ({ out: map(n, (i) => f16(Math.fround(x![i]!))) }),
  })),
  ...sizes.map((n): KernelCase => ({
    kernel: "f16_to_f32",
    params: { n },
    inputs: (r) => ({ x: map(n, (i) => r.normal(1)[0]! * 2 ** ((i % 30) - 20)) }),
    scalars: { n },
    outputs: { out: n },
    exact: true,
    reference: ({ x }) => ({ out: x! }),
  })),
  ...(["f32", "f16"] as const).flatMap((d) =>
    (
      [
        [1, 1000],
        [3, 257],
        [17, 64],
        [2, 4099],
      ] as const
    ).flatMap(([rows, cols]) =>
      [0, 0.25, 0.5, 1].map((t): KernelCase => ({
        kernel: `slerp_rows_${d}`,
        params: { rows, cols, t },
        inputs: (r) => ({ a: r.normal(rows * cols), b: r.normal(rows * cols) }),
        scalars: { t, threshold: 0.9995, rows, cols },
        outputs: { out: rows * cols },
        reference: ({ a, b }) => ({ out: rowSlerp(a!, b!, t, 0.9995, cols, d === "f16") }),
      })),
    ),
  ),
  // Identical rows take the lerp fallback, written a + t(b − a): they come back bit for bit.
  ...(["f32", "f16"] as const).map(
    (d): KernelCase => ({
      kernel: `slerp_rows_${d}`,
      params: { rows: 3, cols: 50, t: 0.37, special: "identical" },
      inputs: (r) => {
        const a = r.normal(150);
        return { a, b: a };
      },
      scalars: { t: 0.37, threshold: 0.9995, rows: 3, cols: 50 },
      outputs: { out: 150 },
      exact: true,
      reference: ({ a }) => ({ out: a! }),
    }),
  ),
  // Degenerate rows: parallel, anti-parallel and zero rows all take the lerp fallback.
  ...(["f32", "f16"] as const).map(
    (d): KernelCase => ({
      kernel: `slerp_rows_${d}`,
      params: { rows: 4, cols: 33, special: "parallel,antiparallel,zero,mixed" },
      inputs: (r) => {
        const base = r.normal(33);
        const a = new Float64Array(4 * 33), b = new Float64Array(4 * 33);
        for (let c = 0; c < 33; c++) {
          a[c] = base[c]!; b[c] = 2 * base[c]!; // parallel
          a[33 + c] = base[c]!; b[33 + c] = -base[c]!; // anti-parallel
          a[66 + c] = 0; b[66 + c] = base[c]!; // zero row: NaN dot
          a[99 + c] = base[c]!; b[99 + c] = base[(c + 5) % 33]!;
        }
        return { a, b };
      },
      scalars: { t: 0.4, threshold: 0.9995, rows: 4, cols: 33 },
      outputs: { out: 4 * 33 },
      reference: ({ a, b }) => ({ out: rowSlerp(a!, b!, 0.4, 0.9995, 33, d === "f16") }),
    }),
  ),
];
