/**
 * How a kernel family declares its kernels once, for the launcher, both backends and the tests.
 * A `.cu` file holds the code; the `.ts` file beside it says, per kernel, what each argument is,
 * how long each buffer must be (an expression over the integer scalar arguments) and how to size
 * the grid. The launcher checks every call against this before any pointer reaches C.
 */

import { ELEMENT_TYPES } from "../core/dtypes.ts";

export type DType = "f32" | "f16" | "i32" | "i64" | "u8";
export type ScalarType = "f32" | "i32" | "i64";

export interface BufferArg {
  kind: "buffer";
  name: string;
  dtype: DType;
  /** Element count the buffer must hold at least, e.g. "n" or "rows*cols". */
  extent: string;
  /** The kernel writes it (guards in tests check that read-only buffers are untouched). */
  writes: boolean;
}

export interface ScalarArg {
  kind: "scalar";
  name: string;
  type: ScalarType;
}

export type KernelArg = BufferArg | ScalarArg;

/**
 * Grid rules. `elementwise`: a grid-stride loop over `count` elements (the GPU grid is capped;
 * the CPU backend splits the range into one contiguous chunk per thread).
 * `rows`: one block per row (`count` rows), `block` threads cooperating on a row.
 */
export type GridRule =
  | { kind: "elementwise"; count: string }
  | { kind: "rows"; count: string; block: number };

export interface KernelSignature {
  /** The C symbol, snake_case, dtype suffixed: `lerp_f32`. */
  name: string;
  args: readonly KernelArg[];
  grid: GridRule;
}

export interface KernelFamily {
  /** File stem in kernels/: `blend` → kernels/blend.cu. */
  name: string;
  /** Absolute path of the .cu source. */
  source: string;
  kernels: Readonly<Record<string, KernelSignature>>;
}

export const buffer = (name: string, dtype: DType, extent: string, writes = false): BufferArg => ({
  kind: "buffer",
  name,
  dtype,
  extent,
  writes,
});
export const output = (name: string, dtype: DType, extent: string): BufferArg =>
  buffer(name, dtype, extent, true);
export const scalar = (name: string, type: ScalarType): ScalarArg => ({ kind: "scalar", name, type });
export const elementwise = (count: string): GridRule => ({ kind: "elementwise", count });
export const rows = (count: string, block = 256): GridRule => ({ kind: "rows", count, block });

export function defineFamily(
  name: string,
  source: string,
  kernels: readonly KernelSignature[],
): KernelFamily {
  return { name, source, kernels: Object.fromEntries(kernels.map((k) => [k.name, k])) };
}

/** The element types kernels take, in the order kernel names list them. */
export const KERNEL_DTYPES: readonly DType[] = ["f32", "f16", "i32", "i64", "u8"];

export const bytesPerElement: Readonly<Record<DType, number>> = Object.fromEntries(
  KERNEL_DTYPES.map((d) => [d, ELEMENT_TYPES[d].bytes]),
) as Record<DType, number>;

/**
 * Evaluates an extent expression (`n`, `rows*cols`, `2*n`, `n+1`) over integer scalar values.
 * Only products and sums of names and integer literals: enough for extents, and cannot run code.
 */
export function evalExtent(expr: string, values: Readonly<Record<string, number>>): number {
  let total = 0;
  for (const term of expr.split("+")) {
    let product = 1;
    for (const factor of term.split("*")) {
      const f = factor.trim();
      const v = /^\d+$/.test(f) ? Number(f) : values[f];
      if (v === undefined) throw new Error(`extent "${expr}" names unknown argument "${f}"`);
      product *= v;
    }
    total += product;
  }
  return total;
}
