/**
 * Seeded noise that is the same bytes on every run, engine and platform.
 *
 * Algorithm (fixed; changing any detail changes every seeded output):
 *  1. Key. A seed is an integer in [0, 2^53 − 1]; its key is the seed as an unsigned 64-bit integer.
 *     `fork(id)` derives a child key = mix64(key XOR mix64(id + 0x632BE59BD9B4E019)), a pure function
 *     of (parent key, id) that does not depend on how much the parent has drawn, so per-frame streams
 *     can be made in any order.
 *  2. State. SplitMix64 (Steele, Lea, Flood 2014) started at the key produces two 64-bit outputs
 *     o1, o2; the xoshiro128** state is (lo32(o1), hi32(o1), lo32(o2), hi32(o2)). An all-zero state
 *     (never seen in practice) is replaced by (1, 0, 0, 0).
 *     SplitMix64: x += 0x9E3779B97F4A7C15; z = x; z = (z ^ z>>30)·0xBF58476D1CE4E5B9;
 *     z = (z ^ z>>27)·0x94D049BB133111EB; out = z ^ z>>31 (all mod 2^64). mix64 is the same without
 *     the increment.
 *  3. Words. xoshiro128** 1.0 (Blackman, Vigna 2018, prng.di.unimi.it/xoshiro128starstar.c):
 *     out = rotl(s1·5, 7)·9; t = s1<<9; s2^=s0; s3^=s1; s1^=s2; s0^=s3; s2^=t; s3 = rotl(s3, 11).
 *  4. Normals. Box–Muller on two consecutive words a, b: u = (a + 1)/2^32 ∈ (0, 1],
 *     θ = 2π·b/2^32, z0 = √(−2 ln u)·cos θ, z1 = √(−2 ln u)·sin θ, each rounded once to f32.
 *     `normal(out)` fills out[0], out[1] from one pair, out[2], out[3] from the next…; an odd length
 *     drops the last z1, so a shorter request is always a prefix of a longer one.
 *  5. Uniform doubles: (a>>>5)·2^26 + (b>>>6), divided by 2^53 → [0, 1).
 *
 * Why no Math.log / Math.cos: ECMAScript leaves their last bits to the engine. Only integer ops,
 * IEEE double + − × ÷ and sqrt are used here, so results are bit-reproducible:
 *  - ln u: u = n/2^32 with integer n; n = m·2^e is split exactly (clz32), m folded into [√½, √2],
 *    ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.1716, as the odd series through s^23
 *    (truncation < 1e-17); ln u = (e − 32)·ln 2 + ln m.
 *  - sin/cos θ: the angle is an exact integer count of 2π/2^32, so reduction to the nearest quarter
 *    turn is integer arithmetic; the remainder φ ∈ [−π/4, π/4) goes through Taylor series through
 *    φ^17 (sin) and φ^18 (cos) (truncation < 1e-18). Both are far below f32 resolution.
 */
import { UsageError } from "../errors.ts";

const MASK64 = (1n << 64n) - 1n;
const GOLDEN64 = 0x9e3779b97f4a7c15n;
const FORK_SALT = 0x632be59bd9b4e019n;
const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** SplitMix64's output function (a bijection on 64-bit integers). */
function mix64(x: bigint): bigint {
  let z = x & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

function checkSeed(value: number, what: string): bigint {
  if (!Number.isInteger(value) || value < 0 || value > MAX_SEED) {
    throw new UsageError(`${what} must be an integer in [0, ${MAX_SEED}], got ${value}`);
  }
  return BigInt(value);
}

// Exact powers of two built by doubling (Math.pow's accuracy is engine-defined).
const POW2: Float64Array = (() => {
  const table = new Float64Array(33);
  table[0] = 1;
  for (let i = 1; i <= 32; i++) table[i] = table[i - 1]! * 2;
  return table;
})();
const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;
const LN2 = 0.6931471805599453;
const SQRT2 = 1.4142135623730951;
const TWO_PI = 6.283185307179586;
const ANGLE_UNIT = TWO_PI / TWO_POW_32; // exact: division by a power of two

// 1/(2k+1) for the atanh series, and ±1/n! for the Taylor series, each made by one division.
const ATANH_COEF: number[] = Array.from({ length: 12 }, (_, k) => 1 / (2 * k + 1));
const SIN_COEF: number[] = [];
const COS_COEF: number[] = [];
{
  let factorial = 1;
  for (let n = 1; n <= 18; n++) {
    factorial *= n; // exact: 18! = 6402373705728000 < 2^53
    const term = (n % 4 === 1 || n % 4 === 0 ? 1 : -1) / factorial;
    if (n % 2 === 1) SIN_COEF.push(term);
    else COS_COEF.push(term);
  }
}

/** ln(n / 2^32) for an integer n in [1, 2^32]. */
function logOfUnitFraction(n: number): number {
  if (n === TWO_POW_32) return 0;
  let e = 31 - Math.clz32(n);
  let m = n / POW2[e]!;
  if (m > SQRT2) {
    m /= 2;
    e += 1;
  }
  const s = (m - 1) / (m + 1);
  const w = s * s;
  let p = ATANH_COEF[11]!;
  for (let k = 10; k >= 0; k--) p = p * w + ATANH_COEF[k]!;
  return (e - 32) * LN2 + 2 * s * p;
}

/** [cos θ, sin θ] for θ = 2π·b/2^32, b an unsigned 32-bit integer. */
function cosSinOfTurnFraction(b: number): [number, number] {
  const quadrant = ((b + 0x20000000) >>> 30) & 3;
  const rest = ((b + 0x20000000) & 0x3fffffff) - 0x20000000;
  const phi = rest * ANGLE_UNIT;
  const w = phi * phi;
  let sp = SIN_COEF[8]!;
  for (let k = 7; k >= 0; k--) sp = sp * w + SIN_COEF[k]!;
  const sinPhi = phi * sp;
  let cp = COS_COEF[8]!;
  for (let k = 7; k >= 0; k--) cp = cp * w + COS_COEF[k]!;
  const cosPhi = 1 + w * cp;
  switch (quadrant) {
    case 0:
      return [cosPhi, sinPhi];
    case 1:
      return [-sinPhi, cosPhi];
    case 2:
      return [-cosPhi, -sinPhi];
    default:
      return [sinPhi, -cosPhi];
  }
}

/** A seeded stream of random numbers (xoshiro128**, see the file comment for the exact algorithm). */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private key = 0n;

  /** `seed`: an integer in [0, 2^53 − 1]. */
  constructor(seed: number) {
    this.rekey(checkSeed(seed, "seed"));
  }

  private rekey(key: bigint): void {
    this.key = key;
    let x = key;
    const words: number[] = [];
    for (let i = 0; i < 2; i++) {
      x = (x + GOLDEN64) & MASK64;
      const out = mix64(x);
      words.push(Number(out & 0xffffffffn) | 0, Number(out >> 32n) | 0);
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next raw 32-bit word, as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const s1 = this.s1;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits (consumes two words). */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /** Fills `out` with standard normals (two words per pair) and returns it. */
  normal(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i += 2) {
      const a = this.nextUint32();
      const b = this.nextUint32();
      const radius = Math.sqrt(-2 * logOfUnitFraction(a + 1));
      const [c, s] = cosSinOfTurnFraction(b);
      out[i] = radius * c;
      if (i + 1 < out.length) out[i + 1] = radius * s;
    }
    return out;
  }

  /**
   * An independent stream numbered `streamId` (integer in [0, 2^53 − 1]). Depends only on this
   * generator's seed/key and the id, never on how much has been drawn from it.
   */
  fork(streamId: number): Rng {
    const id = checkSeed(streamId, "stream id");
    const child = new Rng(0);
    child.rekey(mix64(this.key ^ mix64((id + FORK_SALT) & MASK64)));
    return child;
  }
}

/** `count` standard normals in f32 from a fresh generator seeded with `seed`. */
export function randn(seed: number, count: number): Float32Array {
  if (!Number.isInteger(count) || count < 0) {
    throw new UsageError(`noise count must be a non-negative integer, got ${count}`);
  }
  return new Rng(seed).normal(new Float32Array(count));
}
