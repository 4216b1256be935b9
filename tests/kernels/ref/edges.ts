/**
 * Plain TypeScript references for kernels/edges.cu, written from the definitions (OpenCV's
 * fixed-point grey, Sobel, 4-sector non-maximum suppression, 8-connected hysteresis, bilinear
 * with aligned pixel centres), and the cases the conformance test runs. f32 steps are rounded with
 * Math.fround in the kernel's order so integer outputs compare exactly. Sizes include 1×1, odd and
 * thin images so every border path runs.
 */
import type { KernelCase } from "./case.ts";

const f = Math.fround;
const map = (n: number, g: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => g(i));
const clampIdx = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);

export function grayRef(rgb: ArrayLike<number>, n: number): Float64Array {
  return map(n, (i) => Math.floor((rgb[3 * i]! * 4899 + rgb[3 * i + 1]! * 9617 + rgb[3 * i + 2]! * 1868 + 8192) / 16384));
}

/** Normalised 1-D Gaussian taps [centre, ±1, ±2] for a 5-tap kernel. */
export function gaussianTaps(sigma: number): [number, number, number] {
  const g = [0, 1, 2].map((d) => Math.exp(-(d * d) / (2 * sigma * sigma)));
  const sum = g[0]! + 2 * g[1]! + 2 * g[2]!;
  return [g[0]! / sum, g[1]! / sum, g[2]! / sum];
}

export function blurRef(x: ArrayLike<number>, w: number, h: number, taps: readonly number[]): Float64Array {
  const k = [taps[2]!, taps[1]!, taps[0]!, taps[1]!, taps[2]!];
  return map(w * h, (i) => {
    const y = Math.floor(i / w), xc = i % w;
    let acc = 0;
    for (let dy = -2; dy <= 2; dy++) {
      for (let dx = -2; dx <= 2; dx++) acc += k[dy + 2]! * k[dx + 2]! * x[clampIdx(y + dy, h - 1) * w + clampIdx(xc + dx, w - 1)]!;
    }
    return acc;
  });
}

const TAN22 = f(0.41421356237), TAN67 = f(2.41421356237);

export function gradientRef(x: ArrayLike<number>, w: number, h: number, l2: boolean): { mag: Float64Array; dir: Float64Array } {
  const mag = new Float64Array(w * h), dir = new Float64Array(w * h);
  const at = (xx: number, yy: number) => x[clampIdx(yy, h - 1) * w + clampIdx(xx, w - 1)]!;
  for (let y = 0; y < h; y++) {
    for (let xc = 0; xc < w; xc++) {
      const d = (a: number, b: number) => f(a - b);
      const gx = f(f(d(at(xc + 1, y - 1), at(xc - 1, y - 1)) + 2 * d(at(xc + 1, y), at(xc - 1, y))) + d(at(xc + 1, y + 1), at(xc - 1, y + 1)));
      const gy = f(f(d(at(xc - 1, y + 1), at(xc - 1, y - 1)) + 2 * d(at(xc, y + 1), at(xc, y - 1))) + d(at(xc + 1, y + 1), at(xc + 1, y - 1)));
      const ax = Math.abs(gx), ay = Math.abs(gy);
      mag[y * w + xc] = l2 ? f(Math.sqrt(f(f(gx * gx) + f(gy * gy)))) : f(ax + ay);
      dir[y * w + xc] = ay < f(ax * TAN22) ? 0 : ay > f(ax * TAN67) ? 1 : gx < 0 === gy < 0 ? 2 : 3;
    }
  }
  return { mag, dir };
}

/** Neighbour offsets [a, b] per sector: m must beat a strictly, b strictly only on diagonals. */
const SECTORS: [[number, number], [number, number]][] = [
  [[-1, 0], [1, 0]],
  [[0, -1], [0, 1]],
  [[-1, -1], [1, 1]],
  [[1, -1], [-1, 1]],
];

export function nmsRef(mag: ArrayLike<number>, dir: ArrayLike<number>, w: number, h: number, low: number, high: number): Float64Array {
  const m = (xx: number, yy: number) => (xx >= 0 && xx < w && yy >= 0 && yy < h ? mag[yy * w + xx]! : 0);
  return map(w * h, (i) => {
    const y = Math.floor(i / w), xc = i % w, v = mag[i]!;
    if (!(v > low)) return 0;
    const d = dir[i]!;
    const [[ax, ay], [bx, by]] = SECTORS[d]!;
    const a = m(xc + ax, y + ay), b = m(xc + bx, y + by);
    const keep = v > a && (d < 2 ? v >= b : v > b);
    return keep ? (v > high ? 2 : 1) : 0;
  });
}

/**
 * One hysteresis pass over lines (rows, or columns): each line is copied and swept forwards then
 * backwards; on-line neighbours come from the line as updated, the two neighbouring lines from the
 * pass's input (kernels/edges.cu).
 */
export function hysteresisPassRef(state: ArrayLike<number>, w: number, h: number, lines: "rows" | "cols"): { out: Float64Array; promoted: number } {
  const out = Float64Array.from(state as ArrayLike<number>);
  const at = lines === "rows" ? (line: number, pos: number) => line * w + pos : (line: number, pos: number) => pos * w + line;
  const [count, len] = lines === "rows" ? [h, w] : [w, h];
  let promoted = 0;
  for (let line = 0; line < count; line++) {
    const strongAcross = (pos: number) => {
      for (const l of [line - 1, line + 1]) {
        if (l < 0 || l >= count) continue;
        for (let p = pos - 1; p <= pos + 1; p++) if (p >= 0 && p < len && state[at(l, p)] === 2) return true;
      }
      return false;
    };
    for (const order of [0, 1]) {
      for (let k = 0; k < len; k++) {
        const p = order ? len - 1 - k : k;
        if (out[at(line, p)] !== 1) continue;
        if ((p > 0 && out[at(line, p - 1)] === 2) || (p + 1 < len && out[at(line, p + 1)] === 2) || strongAcross(p)) {
          out[at(line, p)] = 2;
          promoted++;
        }
      }
    }
  }
  return { out, promoted };
}

/** Full hysteresis by flood fill from the strong pixels: an independent route to the fixed point. */
export function hysteresisRef(state: ArrayLike<number>, w: number, h: number): Float64Array {
  const out = Float64Array.from(state as ArrayLike<number>);
  const stack: number[] = [];
  for (let i = 0; i < w * h; i++) if (out[i] === 2) stack.push(i);
  while (stack.length) {
    const i = stack.pop()!;
    const y = Math.floor(i / w), xc = i % w;
    for (let yy = Math.max(0, y - 1); yy <= Math.min(h - 1, y + 1); yy++) {
      for (let xx = Math.max(0, xc - 1); xx <= Math.min(w - 1, xc + 1); xx++) {
        if (out[yy * w + xx] === 1) {
          out[yy * w + xx] = 2;
          stack.push(yy * w + xx);
        }
      }
    }
  }
  return out;
}

export function resizeBilinearRef(x: ArrayLike<number>, planes: number, w: number, h: number, ow: number, oh: number): Float64Array {
  return map(planes * ow * oh, (i) => {
    const p = Math.floor(i / (ow * oh)), rest = i % (ow * oh);
    const oy = Math.floor(rest / ow), ox = rest % ow;
    const sy = Math.max(0, ((oy + 0.5) * h) / oh - 0.5), sx = Math.max(0, ((ox + 0.5) * w) / ow - 0.5);
    const y0 = Math.min(Math.floor(sy), h - 1), x0 = Math.min(Math.floor(sx), w - 1);
    const y1 = Math.min(y0 + 1, h - 1), x1 = Math.min(x0 + 1, w - 1);
    const fy = Math.min(sy - y0, 1), fx = Math.min(sx - x0, 1);
    const at = (xx: number, yy: number) => x[p * w * h + yy * w + xx]!;
    return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x1, y0)) + fy * ((1 - fx) * at(x0, y1) + fx * at(x1, y1));
  });
}

const replicate3 = (v: Float64Array) => map(3 * v.length, (i) => v[Math.floor(i / 3)]!);

/** A state image with long weak chains and a few strong seeds, so passes promote something. */
function states(rng: { next(): number }, n: number): Float64Array {
  return map(n, () => {
    const r = rng.next();
    return r < 0.08 ? 2 : r < 0.65 ? 1 : 0;
  });
}

const sizes: [number, number][] = [[1, 1], [7, 5], [13, 9], [64, 48], [65, 33]];
const big: [number, number][] = [[7, 5], [64, 48], [65, 33]];

export const edgesCases: KernelCase[] = [
  ...sizes.map(([w, h]): KernelCase => ({
    kernel: "rgb24_to_gray_f32",
    params: { w, h },
    inputs: (r) => ({ rgb: map(3 * w * h, () => Math.floor(r.next() * 256)) }),
    scalars: { n: w * h },
    outputs: { out: w * h },
    exact: true,
    reference: ({ rgb }) => ({ out: grayRef(rgb!, w * h) }),
  })),
  ...sizes.flatMap(([w, h]) =>
    [0.8, 1.1].map((sigma): KernelCase => {
      const [w0, w1, w2] = gaussianTaps(sigma).map(f) as [number, number, number];
      return {
        kernel: "gaussian_blur5_f32",
        params: { w, h, sigma },
        inputs: (r) => ({ x: map(w * h, () => Math.floor(r.next() * 256)) }),
        scalars: { w, h, w0, w1, w2 },
        outputs: { out: w * h },
        reference: ({ x }) => ({ out: blurRef(x!, w, h, [w0, w1, w2]) }),
      };
    }),
  ),
  // Integer inputs (as from rgb24_to_gray_f32) keep every f32 step exact, so directions compare exactly.
  ...sizes.flatMap(([w, h]) =>
    [0, 1].map((l2): KernelCase => ({
      kernel: "canny_gradient_f32",
      params: { w, h, l2 },
      inputs: (r) => ({ x: map(w * h, () => Math.floor(r.next() * 256)) }),
      scalars: { w, h, l2 },
      outputs: { mag: w * h, dir: w * h },
      exact: true,
      reference: ({ x }) => gradientRef(x!, w, h, l2 === 1),
    })),
  ),
  ...sizes.map(([w, h]): KernelCase => ({
    kernel: "canny_nms_u8",
    params: { w, h },
    // magnitudes on a coarse grid so ties (plateaus) happen and the >= / > rule is exercised
    inputs: (r) => ({ mag: map(w * h, () => 25 * Math.floor(r.next() * 12)), dir: map(w * h, () => Math.floor(r.next() * 4)) }),
    scalars: { w, h, low: 50, high: 200 },
    outputs: { state: w * h },
    exact: true,
    reference: ({ mag, dir }) => ({ state: nmsRef(mag!, dir!, w, h, 50, 200) }),
  })),
  ...sizes.map(([w, h]): KernelCase => ({
    kernel: "canny_hysteresis_fill_u8",
    params: { w, h },
    inputs: (r) => ({ state: states(r, w * h), stack: map(w * h, () => 0) }),
    scalars: { w, h },
    outputs: {},
    exact: true,
    reference: (inputs) => ({ state: hysteresisRef(inputs.state!, w, h), stack: map(w * h, () => 0) }),
  })),
  ...(["rows", "cols"] as const).flatMap((lines) =>
    sizes.map(([w, h]): KernelCase => ({
      kernel: `canny_hysteresis_${lines}_u8`,
      params: { w, h },
      inputs: (r) => ({ in: states(r, w * h) }),
      scalars: { w, h },
      outputs: { out: w * h, changes: 1 },
      exact: true,
      // `changes` starts at the harness's fill value: the kernel adds to it
      reference: (inputs) => {
        const { out, promoted } = hysteresisPassRef(inputs.in!, w, h, lines);
        return { out, changes: Float64Array.of(inputs.changes![0]! + promoted) };
      },
    })),
  ),
  ...sizes.map(([w, h]): KernelCase => ({
    kernel: "edges_to_rgb24",
    params: { w, h },
    inputs: (r) => ({ state: states(r, w * h) }),
    scalars: { n: w * h },
    outputs: { out: 3 * w * h },
    exact: true,
    reference: ({ state }) => ({ out: replicate3(state!.map((s) => (s === 2 ? 255 : 0))) }),
  })),
  ...sizes.flatMap(([w, h]) =>
    [[0, 1], [0.5, 2]].map(([mean, invStd]): KernelCase => ({
      kernel: "rgb24_to_planar_f32",
      params: { w, h, mean: mean!, inv_std: invStd! },
      inputs: (r) => ({ rgb: map(3 * w * h, () => Math.floor(r.next() * 256)) }),
      scalars: { n: w * h, mean: mean!, inv_std: invStd! },
      outputs: { out: 3 * w * h },
      reference: ({ rgb }) => ({ out: map(3 * w * h, (i) => (rgb![3 * (i % (w * h)) + Math.floor(i / (w * h))]! / 255 - mean!) * invStd!) }),
    })),
  ),
  ...big.flatMap(([w, h]) =>
    ([[2 * w + 1, 2 * h - 1], [Math.ceil(w / 3), Math.ceil(h / 2)], [w, h]] as [number, number][]).map(([ow, oh]): KernelCase => ({
      kernel: "resize_bilinear_f32",
      params: { planes: 2, w, h, ow, oh },
      inputs: (r) => ({ x: r.normal(2 * w * h) }),
      scalars: { planes: 2, w, h, ow, oh },
      outputs: { out: 2 * ow * oh },
      nmse: 1e-10,
      reference: ({ x }) => ({ out: resizeBilinearRef(x!, 2, w, h, ow, oh) }),
    })),
  ),
  ...sizes.map(([w, h]): KernelCase => ({
    kernel: "row_max_f32",
    params: { rows: h, cols: w },
    inputs: (r) => ({ x: r.normal(w * h) }),
    scalars: { rows: h, cols: w },
    outputs: { out: h },
    exact: true,
    reference: ({ x }) => ({ out: map(h, (row) => Math.max(...x!.subarray(row * w, (row + 1) * w))) }),
  })),
  ...sizes.map(([w, h]): KernelCase => ({
    kernel: "depth_to_rgb24",
    params: { w, h },
    // spans below 0 and above the 255 clamp
    inputs: (r) => ({ depth: map(w * h, () => r.next() * 1.2 - 0.1) }),
    scalars: { max: 0.9, n: w * h },
    outputs: { out: 3 * w * h },
    exact: true,
    reference: ({ depth }) => ({ out: replicate3(depth!.map((d) => Math.min(255, Math.max(0, Math.trunc((d * 255) / f(0.9)))))) }),
  })),
];
