/**
 * The stored, already-blended tensor of the previous frame per (site, denoising step), and the
 * blend itself. Ref: shared/specs/attention-interpolation.md §4–5.
 *
 *   Blend(X, i): slot empty → store X, pass X through; else Y = slerp_rows(X, S, ema_i), S ← Y.
 *
 * ema is the weight of the PAST: the reference calls slerp(ema, current, stored), i.e. lerp
 * current + ema·(stored − current), which is our slerp(a = X, b = S, t = ema). Slots may be kept
 * in f16 to halve the memory; the blend always runs in f32 (or in the kernel's f32 for f16 sites).
 */
import { cast, slerp } from "../runtime/blend-ops.ts";
import { Tensor } from "../runtime/tensor.ts";

export type StateDtype = (typeof STATE_DTYPES)[number];
export const STATE_DTYPES = ["f32", "f16"] as const;

/** The spec's parallel-row threshold: |cos θ| above it (or NaN) lerps. */
export const SLERP_THRESHOLD = 0.9995;

export class BlendState implements Disposable {
  private readonly slots = new Map<string, Tensor>();

  constructor(readonly dtype: StateDtype = "f32") {}

  /** Slots held. */
  get count(): number {
    return this.slots.size;
  }

  /** Bytes held by all slots. */
  get bytes(): number {
    let n = 0;
    for (const t of this.slots.values()) n += t.byteLength;
    return n;
  }

  keys(): string[] {
    return [...this.slots.keys()];
  }

  /** The stored tensor of `key` as f32 on the host (tests, diagnostics). */
  peek(key: string): Float32Array | undefined {
    return this.slots.get(key)?.readF32();
  }

  /**
   * Blend `x` with the slot `key` at weight `ema` (of the past), rows of `rowLength` elements.
   * Returns the replacement, or undefined when `x` itself is the result (first frame, ema = 0):
   * then nothing is launched and the output stays byte-identical to an unhooked run.
   */
  blend(key: string, x: Tensor, ema: number, rowLength: number): Tensor | undefined {
    if (x.dtype !== "f32" && x.dtype !== "f16") throw new TypeError(`blend site ${key} carries ${x.dtype}; expected f32 or f16`);
    const slot = this.slots.get(key);
    if (!slot) {
      this.slots.set(key, cast(x, this.dtype));
      return undefined;
    }
    if (slot.size !== x.size) {
      throw new RangeError(
        `blend state ${key} holds [${slot.shape.join(", ")}] but the site now gives [${x.shape.join(", ")}]: ` +
          `a new size or step count needs a fresh state (reset())`,
      );
    }
    if (ema === 0) {
      cast(x, this.dtype, slot);
      return undefined;
    }
    if (slot.dtype === x.dtype) {
      // Blend straight into the slot (the kernel reads each element before writing it) and hand
      // out a view of it: no new tensor, no copy. Callers may dispose the view; the slot stays.
      slerp(x, slot, ema, { rowLength, threshold: SLERP_THRESHOLD, out: slot });
      return slot.reshape(x.shape);
    }
    // f16 state with f32 sites: widen the past; the kernel computes in f32.
    const past = cast(slot, x.dtype as StateDtype);
    try {
      const y = slerp(x, past, ema, { rowLength, threshold: SLERP_THRESHOLD });
      cast(y, this.dtype, slot);
      return y;
    } finally {
      past.dispose();
    }
  }

  /** Forgets every slot (a new clip, size or step count). */
  reset(): void {
    for (const t of this.slots.values()) t.dispose();
    this.slots.clear();
  }

  dispose(): void {
    this.reset();
  }

  [Symbol.dispose](): void {
    this.reset();
  }
}
