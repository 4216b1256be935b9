/**
 * Plain TypeScript references for kernels/patchmatch.cu, written from the formulas of
 * shared/specs/patch-match.md and the kernels' comments: f32 arithmetic by Math.fround after
 * every operation, sums in the kernels' order, the counter-based hash by Math.imul. Small images,
 * odd sizes, batches of two and sources of another size than the target.
 */
import type { KernelCase } from "./case.ts";

const f = Math.fround;
const C = 8;
const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);
const map = (n: number, fn: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => fn(i));

function mix(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}
function rand(seed: number, stream: number, counter: number): number {
  const key = mix((Math.imul(seed, 0x9e3779b9) + Math.imul(stream, 0x85ebca6b) + 0x632be5ab) >>> 0);
  return mix((key ^ Math.imul(counter, 0xc2b2ae35)) >>> 0);
}

const recordLength = (b: number, h: number, w: number, pad: number) => C * b * (h + 2 * pad) * (w + 2 * pad);

/** Weighted patch SSD between records t (target item/size) and s, centred at (ty, tx) and (sy, sx). */
function distance(
  t: Float64Array, tBase: number, tw: number, ty: number, tx: number,
  s: Float64Array, sBase: number, sw: number, sy: number, sx: number,
  r: number, weights: Float64Array,
): number {
  const acc = new Array<number>(C).fill(0);
  for (let oy = -r; oy <= r; oy++) {
    for (let ox = -r; ox <= r; ox++) {
      const ti = tBase + ((ty + oy) * tw + tx + ox) * C;
      const si = sBase + ((sy + oy) * sw + sx + ox) * C;
      for (let c = 0; c < C; c++) {
        const d = f(t[ti + c]! - s[si + c]!);
        acc[c] = f(acc[c]! + f(d * d));
      }
    }
  }
  let e = 0;
  for (let c = 0; c < C; c++) e = f(e + f(weights[c]! * acc[c]!));
  return e;
}

interface Sizes { b: number; h: number; w: number; sh: number; sw: number }

function patchError(
  inputs: Record<string, Float64Array>, { b, h, w, sh, sw }: Sizes, pad: number, r: number, accumulate: boolean, skipSame: boolean,
): Float64Array {
  const { tgt, src, nnf, ref, weights, err } = inputs as Record<string, Float64Array>;
  const rr = clamp(r, 0, pad);
  const tw = w + 2 * pad, th = h + 2 * pad, stw = sw + 2 * pad, sth = sh + 2 * pad;
  return map(b * h * w, (i) => {
    if (skipSame && nnf![2 * i] === ref![2 * i] && nnf![2 * i + 1] === ref![2 * i + 1]) return f(3.0e38);
    const bi = Math.floor(i / (h * w)), rem = i % (h * w), y = Math.floor(rem / w), x = rem % w;
    const sy = clamp(nnf![2 * i]!, 0, sh - 1), sx = clamp(nnf![2 * i + 1]!, 0, sw - 1);
    const e = distance(tgt!, bi * th * tw * C, tw, y + pad, x + pad, src!, bi * sth * stw * C, stw, sy + pad, sx + pad, rr, weights!);
    return accumulate ? f(err![i]! + e) : e;
  });
}

function pairwiseError(inputs: Record<string, Float64Array>, pairs: number, { h, w, sh, sw }: Omit<Sizes, "b">, pad: number, r: number, accumulate: boolean) {
  const { src, nnf, weights, err } = inputs;
  const rr = clamp(r, 0, pad);
  const stw = sw + 2 * pad, sth = sh + 2 * pad, hw = h * w;
  const out = Float64Array.from(err ?? new Float64Array(2 * pairs * hw));
  for (let k = 0; k < pairs; k++) {
    for (let rem = 0; rem < hw; rem++) {
      const ia = 2 * k * hw + rem, ib = ia + hw;
      const ay = clamp(nnf![2 * ia]!, 0, sh - 1), ax = clamp(nnf![2 * ia + 1]!, 0, sw - 1);
      const by = clamp(nnf![2 * ib]!, 0, sh - 1), bx = clamp(nnf![2 * ib + 1]!, 0, sw - 1);
      const e = distance(src!, 2 * k * sth * stw * C, stw, ay + pad, ax + pad, src!, (2 * k + 1) * sth * stw * C, stw, by + pad, bx + pad, rr, weights!);
      out[ia] = accumulate ? f(out[ia]! + e) : e;
      out[ib] = accumulate ? f(out[ib]! + e) : e;
    }
  }
  return out;
}

function candidate(nnf: Float64Array, { b, h, w, sh, sw }: Sizes, mode: number, amount: number, seed: number, stream: number) {
  const d = Math.abs(amount);
  const out = new Float64Array(2 * b * h * w);
  for (let i = 0; i < b * h * w; i++) {
    const bi = Math.floor(i / (h * w)), rem = i % (h * w), y = Math.floor(rem / w), x = rem % w;
    let cy: number, cx: number;
    if (mode < 8) {
      const m = mode & 3;
      const ey = m === 0 ? -d : m === 2 ? d : 0, ex = m === 1 ? -d : m === 3 ? d : 0;
      if (mode >= 4) {
        cy = nnf[2 * i]! + ey;
        cx = nnf[2 * i + 1]! + ex;
      } else {
        const ny = y + ey, nx = x + ex;
        const g = ny >= 0 && ny < h && nx >= 0 && nx < w ? 2 * ((bi * h + ny) * w + nx) : 2 * i;
        cy = nnf[g]! - ey;
        cx = nnf[g + 1]! - ex;
      }
    } else {
      const span = 2 * d + 1;
      cy = nnf[2 * i]! + (rand(seed, stream, 2 * rem) % span) - d;
      cx = nnf[2 * i + 1]! + (rand(seed, stream, 2 * rem + 1) % span) - d;
    }
    out[2 * i] = clamp(cy, 0, sh - 1);
    out[2 * i + 1] = clamp(cx, 0, sw - 1);
  }
  return out;
}

function remap(style: Float64Array, nnf: Float64Array, { b, h, w, sh, sw }: Sizes, r: number) {
  const out = new Float64Array(4 * b * h * w);
  for (let i = 0; i < b * h * w; i++) {
    const bi = Math.floor(i / (h * w)), rem = i % (h * w), y = Math.floor(rem / w), x = rem % w;
    const acc = [0, 0, 0, 0];
    let count = 0;
    for (let oy = -r; oy <= r; oy++) {
      for (let ox = -r; ox <= r; ox++) {
        const qy = y + oy, qx = x + ox;
        if (qy < 0 || qy >= h || qx < 0 || qx >= w) continue;
        const q = 2 * ((bi * h + qy) * w + qx);
        const sy = nnf[q]! - oy, sx = nnf[q + 1]! - ox;
        if (sy < 0 || sy >= sh || sx < 0 || sx >= sw) continue;
        for (let c = 0; c < 4; c++) acc[c] = f(acc[c]! + style[((bi * sh + sy) * sw + sx) * 4 + c]!);
        count++;
      }
    }
    for (let c = 0; c < 4; c++) out[i * 4 + c] = count ? f(acc[c]! / count) : 0;
  }
  return out;
}

function downsample(x: Float64Array, b: number, h: number, w: number, oh: number, ow: number) {
  const out = new Float64Array(4 * b * oh * ow);
  for (let bi = 0; bi < b; bi++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const y0 = Math.floor((oy * h) / oh), y1 = Math.ceil(((oy + 1) * h) / oh);
        const x0 = Math.floor((ox * w) / ow), x1 = Math.ceil(((ox + 1) * w) / ow);
        const acc = [0, 0, 0, 0];
        for (let y = y0; y < y1; y++) {
          for (let xx = x0; xx < x1; xx++) {
            for (let c = 0; c < 4; c++) acc[c] = f(acc[c]! + x[((bi * h + y) * w + xx) * 4 + c]!);
          }
        }
        const count = (y1 - y0) * (x1 - x0);
        for (let c = 0; c < 4; c++) out[((bi * oh + oy) * ow + ox) * 4 + c] = f(acc[c]! / count);
      }
    }
  }
  return out;
}

function upsample(nnf: Float64Array, { b, h, w, sh, sw }: Sizes, ch: number, cw: number, csh: number, csw: number) {
  const out = new Float64Array(2 * b * h * w);
  for (let i = 0; i < b * h * w; i++) {
    const bi = Math.floor(i / (h * w)), rem = i % (h * w), y = Math.floor(rem / w), x = rem % w;
    const cy = clamp(Math.floor((y * ch) / h), 0, ch - 1), cx = clamp(Math.floor((x * cw) / w), 0, cw - 1);
    const g = 2 * ((bi * ch + cy) * cw + cx);
    const fy = clamp(nnf[g]!, 0, csh - 1), fx = clamp(nnf[g + 1]!, 0, csw - 1);
    out[2 * i] = clamp(Math.floor((fy * sh) / csh) + y - Math.floor((cy * h) / ch), 0, sh - 1);
    out[2 * i + 1] = clamp(Math.floor((fx * sw) / csw) + x - Math.floor((cx * w) / cw), 0, sw - 1);
  }
  return out;
}

// ---- inputs

const ints = (n: number, lo: number, hi: number, u: () => number) => map(n, () => lo + Math.floor(u() * (hi - lo + 1)));
/** A field mostly inside the source, with some entries outside it (the kernels clamp). */
const field = (n: number, sh: number, sw: number, u: () => number) =>
  map(2 * n, (i) => (i % 2 === 0 ? -2 + Math.floor(u() * (sh + 4)) : -2 + Math.floor(u() * (sw + 4))));
/** A record with a zero border, as pm_pack_f32 writes it, holding values 0..255. */
function record(b: number, h: number, w: number, pad: number, u: () => number) {
  const pw = w + 2 * pad, ph = h + 2 * pad;
  return map(recordLength(b, h, w, pad), (i) => {
    const p = Math.floor(i / C) % (ph * pw), y = Math.floor(p / pw) - pad, x = (p % pw) - pad;
    return y < 0 || y >= h || x < 0 || x >= w || i % 4 === 3 ? 0 : Math.floor(u() * 256) + (i % 3) * 0.25;
  });
}
const WEIGHTS = Float64Array.from([10, 10, 10, 0, 1, 1, 1, 0]);

const shapes: (Sizes & { pad: number; r: number })[] = [
  { b: 1, h: 9, w: 11, sh: 9, sw: 11, pad: 2, r: 2 },
  { b: 2, h: 7, w: 5, sh: 13, sw: 6, pad: 3, r: 3 },
  { b: 1, h: 33, w: 40, sh: 33, sw: 40, pad: 6, r: 4 }, // r < pad
  { b: 1, h: 6, w: 6, sh: 6, sw: 6, pad: 1, r: 3 }, // r capped at pad
  { b: 2, h: 130, w: 130, sh: 130, sw: 130, pad: 2, r: 2 }, // above the serial threshold: OpenMP chunks
];
const label = ({ b, h, w, sh, sw }: Sizes) => `${b}x${h}x${w}<-${sh}x${sw}`;

export const patchmatchCases: KernelCase[] = [
  ...[1, 7, 40001].map((n): KernelCase => ({
    kernel: "pm_rgb24_to_f32x4",
    params: { n },
    inputs: (g) => ({ rgb: ints(3 * n, 0, 255, () => g.next()) }),
    scalars: { n },
    outputs: { out: 4 * n },
    exact: true,
    reference: ({ rgb }) => ({ out: map(4 * n, (i) => (i % 4 === 3 ? 0 : rgb![3 * Math.floor(i / 4) + (i % 4)]!)) }),
  })),
  ...[0, 1].flatMap((round) =>
    [5, 40001].map((n): KernelCase => ({
      kernel: "pm_f32x4_to_rgb24",
      params: { n, round },
      // values beyond 0..255 and exact halves (NaN inputs would trip the harness's read-only check)
      inputs: (g) => ({ x: map(4 * n, (i) => (i % 13 === 0 ? (i % 26) + 0.5 : -40 + g.next() * 340)) }),
      scalars: { n, round },
      outputs: { out: 3 * n },
      exact: true,
      reference: ({ x }) => ({
        out: map(3 * n, (i) => {
          let v = x![4 * Math.floor(i / 3) + (i % 3)]!;
          if (round) v = f(v + 0.5);
          return Math.trunc(clamp(v, 0, 255));
        }),
      }),
    })),
  ),
  ...[
    [1, 9, 11, 4, 5],
    [2, 16, 16, 8, 8],
    [1, 13, 7, 13, 7],
    [1, 300, 301, 150, 150],
  ].map(([b, h, w, oh, ow]): KernelCase => ({
    kernel: "pm_downsample_f32",
    params: { b: b!, from: `${h}x${w}`, to: `${oh}x${ow}` },
    inputs: (g) => ({ x: map(4 * b! * h! * w!, () => Math.floor(g.next() * 256)) }),
    scalars: { b: b!, h: h!, w: w!, oh: oh!, ow: ow! },
    outputs: { out: 4 * b! * oh! * ow! },
    reference: ({ x }) => ({ out: downsample(x!, b!, h!, w!, oh!, ow!) }),
  })),
  ...shapes.slice(0, 3).map(({ b, h, w, pad }): KernelCase => ({
    kernel: "pm_pack_f32",
    params: { b, h, w, pad },
    inputs: (g) => ({ guide: g.normal(4 * b * h * w), style: g.normal(4 * b * h * w) }),
    scalars: { b, h, w, pad },
    outputs: { rec: recordLength(b, h, w, pad) },
    exact: true,
    reference: ({ guide, style }) => {
      const pw = w + 2 * pad, ph = h + 2 * pad;
      return {
        rec: map(recordLength(b, h, w, pad), (i) => {
          const p = Math.floor(i / C), c = i % C, bi = Math.floor(p / (ph * pw)), rem = p % (ph * pw);
          const y = Math.floor(rem / pw) - pad, x = (rem % pw) - pad;
          if (y < 0 || y >= h || x < 0 || x >= w) return 0;
          const src = c < 4 ? guide! : style!;
          return src[((bi * h + y) * w + x) * 4 + (c % 4)]!;
        }),
      };
    },
  })),
  ...shapes.slice(0, 2).map((s): KernelCase => ({
    kernel: "pm_nnf_identity_i32",
    params: { shape: label(s) },
    inputs: () => ({}),
    scalars: { b: s.b, h: s.h, w: s.w, sh: s.sh, sw: s.sw },
    outputs: { nnf: 2 * s.b * s.h * s.w },
    exact: true,
    reference: () => ({
      nnf: map(2 * s.b * s.h * s.w, (i) => {
        const rem = Math.floor(i / 2) % (s.h * s.w);
        return i % 2 === 0 ? Math.floor((Math.floor(rem / s.w) * s.sh) / s.h) : Math.floor(((rem % s.w) * s.sw) / s.w);
      }),
    }),
  })),
  ...[0, 12345, 0xfffffff].flatMap((seed) =>
    [shapes[1]!, shapes[4]!].map((s): KernelCase => ({
      kernel: "pm_nnf_random_i32",
      params: { shape: label(s), seed },
      inputs: () => ({}),
      scalars: { b: s.b, h: s.h, w: s.w, sh: s.sh, sw: s.sw, seed },
      outputs: { nnf: 2 * s.b * s.h * s.w },
      exact: true,
      // the counter restarts with each item: 2 × (pixel within the item) + axis
      reference: () => ({ nnf: map(2 * s.b * s.h * s.w, (i) => rand(seed, 0xffffffff, i % (2 * s.h * s.w)) % (i % 2 === 0 ? s.sh : s.sw)) }),
    })),
  ),
  ...[
    { b: 1, h: 10, w: 12, sh: 10, sw: 12, ch: 5, cw: 6, csh: 5, csw: 6 }, // exact doubling
    { b: 2, h: 9, w: 7, sh: 9, sw: 7, ch: 4, cw: 3, csh: 4, csw: 3 }, // odd sizes
    { b: 1, h: 8, w: 8, sh: 11, sw: 5, ch: 4, cw: 4, csh: 5, csw: 2 }, // target and source differ
    { b: 1, h: 260, w: 258, sh: 260, sw: 258, ch: 130, cw: 129, csh: 130, csw: 129 },
  ].map((s): KernelCase => ({
    kernel: "pm_nnf_upsample_i32",
    params: { shape: label(s), from: `${s.ch}x${s.cw}<-${s.csh}x${s.csw}` },
    inputs: (g) => ({ nnf: field(s.b * s.ch * s.cw, s.csh, s.csw, () => g.next()) }),
    scalars: s,
    outputs: { out: 2 * s.b * s.h * s.w },
    exact: true,
    reference: ({ nnf }) => ({ out: upsample(nnf!, s, s.ch, s.cw, s.csh, s.csw) }),
  })),
  ...[0, 1, 2, 3, 4, 5, 6, 7, 8].flatMap((mode) =>
    [shapes[0]!, shapes[1]!, ...(mode === 0 || mode === 8 ? [shapes[4]!] : [])].flatMap((s) =>
      (mode === 8 ? [1, 4] : [1, 4]).map((amount): KernelCase => {
        const sz = { b: s.b, h: s.h, w: s.w, sh: s.sh, sw: s.sw };
        return {
          kernel: "pm_candidate_i32",
          params: { shape: label(s), mode, amount },
          inputs: (g) => ({ nnf: field(s.b * s.h * s.w, s.sh, s.sw, () => g.next()) }),
          scalars: { ...sz, mode, amount, seed: 77, stream: 3 },
          outputs: { cand: 2 * s.b * s.h * s.w },
          exact: true,
          reference: ({ nnf }) => ({ cand: candidate(nnf!, sz, mode, amount, 77, 3) }),
        };
      }),
    ),
  ),
  ...shapes.flatMap((s) =>
    [
      [0, 0],
      [1, 0],
      [0, 1],
    ].map(([accumulate, skip_same]): KernelCase => {
      const sz = { b: s.b, h: s.h, w: s.w, sh: s.sh, sw: s.sw };
      return {
        kernel: "pm_patch_error_f32",
        params: { shape: label(s), pad: s.pad, r: s.r, accumulate: accumulate!, skip_same: skip_same! },
        inputs: (g) => {
          const nnf = field(s.b * s.h * s.w, s.sh, s.sw, () => g.next());
          return {
            tgt: record(s.b, s.h, s.w, s.pad, () => g.next()),
            src: record(s.b, s.sh, s.sw, s.pad, () => g.next()),
            nnf,
            // a reference field equal to nnf at about half the pixels
            ref: map(nnf.length, (i) => (Math.floor(i / 2) % 2 === 0 ? nnf[i]! : nnf[i]! + 1)),
            weights: WEIGHTS,
            ...(accumulate ? { err: map(s.b * s.h * s.w, () => g.next() * 1000) } : {}),
          };
        },
        scalars: { ...sz, pad: s.pad, r: s.r, accumulate: accumulate!, skip_same: skip_same! },
        outputs: { err: s.b * s.h * s.w },
        reference: (inputs) => ({ err: patchError(inputs, sz, s.pad, s.r, accumulate === 1, skip_same === 1) }),
      };
    }),
  ),
  ...[
    { pairs: 1, h: 9, w: 11, sh: 9, sw: 11, pad: 2, r: 2 },
    { pairs: 2, h: 6, w: 8, sh: 10, sw: 5, pad: 3, r: 1 },
    { pairs: 1, h: 200, w: 200, sh: 200, sw: 200, pad: 2, r: 2 },
  ].flatMap((s) =>
    [0, 1].map((accumulate): KernelCase => ({
      kernel: "pm_pairwise_error_f32",
      params: { pairs: s.pairs, shape: `${s.h}x${s.w}<-${s.sh}x${s.sw}`, r: s.r, accumulate },
      inputs: (g) => ({
        src: record(2 * s.pairs, s.sh, s.sw, s.pad, () => g.next()),
        nnf: field(2 * s.pairs * s.h * s.w, s.sh, s.sw, () => g.next()),
        weights: WEIGHTS,
        ...(accumulate ? { err: map(2 * s.pairs * s.h * s.w, () => g.next() * 1000) } : {}),
      }),
      scalars: { ...s, accumulate },
      outputs: { err: 2 * s.pairs * s.h * s.w },
      reference: (inputs) => ({ err: pairwiseError(inputs, s.pairs, s, s.pad, s.r, accumulate === 1) }),
    })),
  ),
  ...[10, 40001].map((n): KernelCase => ({
    kernel: "pm_accept_f32",
    params: { n },
    inputs: (g) => {
      const err = map(n, () => Math.floor(g.next() * 8));
      // ties (equal errors) must keep the current match
      const cand_err = map(n, (i) => (i % 3 === 0 ? err[i]! : Math.floor(g.next() * 8)));
      return { nnf: ints(2 * n, 0, 99, () => g.next()), err, cand: ints(2 * n, 0, 99, () => g.next()), cand_err };
    },
    scalars: { n },
    outputs: { nnf: 2 * n, err: n },
    exact: true,
    reference: ({ nnf, err, cand, cand_err }) => {
      const better = (i: number) => cand_err![i]! < err![i]!;
      return {
        nnf: map(2 * n, (i) => (better(Math.floor(i / 2)) ? cand![i]! : nnf![i]!)),
        err: map(n, (i) => (better(i) ? cand_err![i]! : err![i]!)),
      };
    },
  })),
  ...shapes.map((s): KernelCase => {
    const sz = { b: s.b, h: s.h, w: s.w, sh: s.sh, sw: s.sw };
    return {
      kernel: "pm_remap_f32",
      params: { shape: label(s), r: s.r },
      inputs: (g) => ({ style: map(4 * s.b * s.sh * s.sw, () => Math.floor(g.next() * 256)), nnf: field(s.b * s.h * s.w, s.sh, s.sw, () => g.next()) }),
      scalars: { ...sz, r: s.r },
      outputs: { out: 4 * s.b * s.h * s.w },
      reference: ({ style, nnf }) => ({ out: remap(style!, nnf!, sz, s.r) }),
    };
  }),
  {
    kernel: "pm_remap_f32",
    params: { case: "corrupt field: no valid vote gives 0" },
    inputs: (g) => ({ style: g.normal(4 * 16), nnf: map(2 * 16, () => 1000) }),
    scalars: { b: 1, h: 4, w: 4, sh: 4, sw: 4, r: 1 },
    outputs: { out: 4 * 16 },
    exact: true,
    reference: () => ({ out: new Float64Array(64) }),
  },
  ...[
    [1, 7],
    [3, 1001],
    [4, 40001],
  ].map(([b, n]): KernelCase => ({
    kernel: "pm_batch_mean_f32",
    params: { b: b!, n: n! },
    inputs: (g) => ({ x: g.normal(b! * n!) }),
    scalars: { b: b!, n: n! },
    outputs: { out: n! },
    reference: ({ x }) => ({
      out: map(n!, (i) => {
        let acc = 0;
        for (let k = 0; k < b!; k++) acc = f(acc + x![k * n! + i]!);
        return f(acc / b!);
      }),
    }),
  })),
];
