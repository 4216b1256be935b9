/**
 * Colour matching of every output frame to frame 0: per-channel CDF (histogram) matching, in
 * CIE L*a*b* or in RGB. Ref: shared/specs/attention-interpolation.md §2.4 (skimage
 * match_histograms on OpenCV's 8-bit LAB).
 *
 * Plain TypeScript, no kernel: at 256×256 a frame is 65k pixels, one pass each way with 256-entry
 * tables, a few milliseconds against a UNet step that costs tens. The channels are quantised to
 * 8-bit codes as OpenCV's 8-bit LAB is (L·255/100, a + 128, b + 128), which makes the histograms
 * exact integer counts; the matched values stay fractional until the conversion back to RGB.
 */
import { UsageError } from "../errors.ts";
import type { Frame } from "../io/frame.ts";

export const HIST_MODES = ["lab", "rgb", "none"] as const;
export type HistMode = (typeof HIST_MODES)[number];

/** A frame's three channels as 8-bit codes (planar), in the space the mode matches in. */
export function channelCodes(frame: Frame, mode: "lab" | "rgb"): Uint8Array[] {
  return channels(frame, mode).codes;
}

/**
 * Codes plus what rounding to them dropped (LAB only), so that the conversion back can add it
 * again: an identity match then returns the frame unchanged instead of 8-bit LAB's round trip.
 */
function channels(frame: Frame, mode: "lab" | "rgb"): { codes: Uint8Array[]; rest: Float32Array[] } {
  const n = frame.width * frame.height;
  const codes = [new Uint8Array(n), new Uint8Array(n), new Uint8Array(n)];
  const rest = mode === "lab" ? [new Float32Array(n), new Float32Array(n), new Float32Array(n)] : [];
  const d = frame.data;
  if (mode === "rgb") {
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) codes[c]![i] = d[3 * i + c]!;
    return { codes, rest };
  }
  const lab = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    rgbToLab(d[3 * i]!, d[3 * i + 1]!, d[3 * i + 2]!, lab);
    const v = [(lab[0]! * 255) / 100, lab[1]! + 128, lab[2]! + 128];
    for (let c = 0; c < 3; c++) {
      codes[c]![i] = clampByte(v[c]!);
      rest[c]![i] = v[c]! - codes[c]![i]!;
    }
  }
  return { codes, rest };
}

/**
 * The value each source code maps to: the template value at the source code's quantile, linear
 * between the template's quantiles (np.interp, flat beyond the ends), as skimage does.
 */
export function cdfMatchTable(source: Uint8Array, template: Uint8Array): Float32Array {
  const quantiles = (codes: Uint8Array) => {
    const counts = new Float64Array(256);
    for (const v of codes) counts[v]!++;
    const values: number[] = [];
    const q: number[] = [];
    let sum = 0;
    for (let v = 0; v < 256; v++) {
      if (counts[v] === 0) continue;
      sum += counts[v]!;
      values.push(v);
      q.push(sum / codes.length);
    }
    return { values, q };
  };
  const s = quantiles(source);
  const t = quantiles(template);
  const table = new Float32Array(256);
  let j = 0;
  s.values.forEach((v, idx) => {
    const x = s.q[idx]!;
    while (j < t.q.length - 1 && t.q[j + 1]! < x) j++;
    if (x <= t.q[0]!) table[v] = t.values[0]!;
    else if (j >= t.q.length - 1) table[v] = t.values[t.values.length - 1]!;
    else {
      const f = (x - t.q[j]!) / (t.q[j + 1]! - t.q[j]!);
      table[v] = t.values[j]! + f * (t.values[j + 1]! - t.values[j]!);
    }
  });
  return table;
}

/** Reference channels of frame 0, computed once per clip. */
export class HistogramMatcher {
  private readonly reference: Uint8Array[];

  constructor(reference: Frame, readonly mode: "lab" | "rgb") {
    this.reference = channelCodes(reference, mode);
  }

  /** `frame` with each channel's distribution moved onto the reference's (a new frame). */
  match(frame: Frame): Frame {
    const { codes, rest } = channels(frame, this.mode);
    const tables = codes.map((c, i) => cdfMatchTable(c, this.reference[i]!));
    const n = frame.width * frame.height;
    const out = new Uint8Array(n * 3);
    const rgb = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const a = tables[0]![codes[0]![i]!]!;
      const b = tables[1]![codes[1]![i]!]!;
      const c = tables[2]![codes[2]![i]!]!;
      if (this.mode === "rgb") {
        out[3 * i] = clampByte(a);
        out[3 * i + 1] = clampByte(b);
        out[3 * i + 2] = clampByte(c);
      } else {
        labToRgb(((a + rest[0]![i]!) * 100) / 255, b + rest[1]![i]! - 128, c + rest[2]![i]! - 128, rgb);
        out[3 * i] = rgb[0]!;
        out[3 * i + 1] = rgb[1]!;
        out[3 * i + 2] = rgb[2]!;
      }
    }
    return { width: frame.width, height: frame.height, data: out };
  }
}

export function checkHistMode(mode: string): HistMode {
  if (!HIST_MODES.includes(mode as HistMode)) throw new UsageError(`unknown hist_normalize "${mode}": expected one of ${HIST_MODES.join(", ")}`);
  return mode as HistMode;
}

const clampByte = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

// sRGB (D65) ↔ CIE L*a*b*, the formulas OpenCV uses for 8-bit images.
const LINEAR = Float64Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});
const WHITE = [0.950456, 1, 1.088754];
const EPS = 216 / 24389;
const KAPPA = 24389 / 27;

function rgbToLab(r: number, g: number, b: number, out: number[]): void {
  const R = LINEAR[r]!, G = LINEAR[g]!, B = LINEAR[b]!;
  const x = (0.412453 * R + 0.35758 * G + 0.180423 * B) / WHITE[0]!;
  const y = 0.212671 * R + 0.71516 * G + 0.072169 * B;
  const z = (0.019334 * R + 0.119193 * G + 0.950227 * B) / WHITE[2]!;
  const f = (t: number) => (t > EPS ? Math.cbrt(t) : (KAPPA * t + 16) / 116);
  const fx = f(x), fy = f(y), fz = f(z);
  out[0] = 116 * fy - 16;
  out[1] = 500 * (fx - fy);
  out[2] = 200 * (fy - fz);
}

function labToRgb(L: number, a: number, b: number, out: number[]): void {
  const fy = (L + 16) / 116;
  const fx = fy + a / 500;
  const fz = fy - b / 200;
  const inv = (f: number) => (f ** 3 > EPS ? f ** 3 : (116 * f - 16) / KAPPA);
  const x = inv(fx) * WHITE[0]!, y = L > KAPPA * EPS ? fy ** 3 : L / KAPPA, z = inv(fz) * WHITE[2]!;
  const lin = [
    3.240479 * x - 1.53715 * y - 0.498535 * z,
    -0.969256 * x + 1.875991 * y + 0.041556 * z,
    0.055648 * x - 0.204043 * y + 1.057311 * z,
  ];
  for (let c = 0; c < 3; c++) {
    const v = Math.min(1, Math.max(0, lin[c]!));
    out[c] = Math.round(255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055));
  }
}
