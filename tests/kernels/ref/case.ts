/** One conformance case: seeded inputs, scalar arguments, output extents and a TS reference. */
export interface KernelCase {
  kernel: string;
  /** Shown in the test name. */
  params: Record<string, number | string>;
  inputs: (rng: TestRng) => Record<string, Float64Array>;
  scalars: Record<string, number>;
  /** Output buffer name → element count (in-place buffers come from `inputs` instead). */
  outputs: Record<string, number>;
  reference: (inputs: Record<string, Float64Array>) => Record<string, Float64Array>;
  /** Compare bit for bit (conversions) instead of by NMSE. */
  exact?: boolean;
  /** Largest normalised mean squared error accepted (default 1e-7 for f32, 1e-5 for f16). */
  nmse?: number;
}

/** mulberry32 + Box-Muller: test inputs only, independent of the library's own generator. */
export class TestRng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(n: number): Float64Array {
    return Float64Array.from({ length: n }, () => this.next());
  }
  normal(n: number): Float64Array {
    return Float64Array.from({ length: n }, () => {
      const u = 1 - this.next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
    });
  }
}
