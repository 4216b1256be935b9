/**
 * Several ControlNet conditions summed, where some are "global-pool" nets — DiffSynth's Shuffle
 * (shared/specs/diffsynth.md §6b): their residuals on the conditional half become each channel's
 * spatial mean, and on the unconditional half zeros, so the style image steers colours and
 * textures but not the layout. Each part is its own ControlGuidance; the sum is taken on the host.
 */
import { cast } from "../../runtime/blend-ops.ts";
import type { Backend } from "../../runtime/backend.ts";
import type { TensorInfo } from "../../runtime/ort-model.ts";
import { Tensor } from "../../runtime/tensor.ts";
import { type ControlFeeds, ControlGuidance } from "../../sd/control-guidance.ts";

export interface GuidancePart {
  guidance: ControlGuidance;
  pooled: boolean;
}

/**
 * In place on `values` [B, C, h, w]: with B = 2 (a CFG batch [uncond; cond]) row 0 → 0 and row 1
 * → per-channel mean; with B = 1 (the conditional half alone) row 0 → per-channel mean.
 */
export function globalPool(values: Float32Array, shape: readonly number[]): Float32Array {
  const [b = 1, c = 1, h = 1, w = 1] = shape;
  const plane = h * w;
  for (let r = 0; r < b; r++) {
    for (let k = 0; k < c; k++) {
      const o = (r * c + k) * plane;
      let mean = 0;
      if (!(b === 2 && r === 0)) {
        for (let i = 0; i < plane; i++) mean += values[o + i]!;
        mean /= plane;
      }
      values.fill(mean, o, o + plane);
    }
  }
  return values;
}

export class PooledGuidance extends ControlGuidance {
  constructor(
    private readonly parts: readonly GuidancePart[],
    unetInputs: readonly TensorInfo[],
    private readonly dtype: "f32" | "f16",
    private readonly device: Backend,
    size: { width: number; height: number },
    steps: number,
  ) {
    super([], unetInputs, dtype, device, size, steps);
  }

  override feeds(sample: Tensor, t: number, index: number, context: Tensor): ControlFeeds {
    const fed = this.parts.map((p) => ({ feeds: p.guidance.feeds(sample, t, index, context), pooled: p.pooled }));
    const made: Tensor[] = [];
    try {
      const names = Object.keys(fed[0]!.feeds.inputs);
      const inputs: Record<string, Tensor> = {};
      for (const name of names) {
        const shape = fed[0]!.feeds.inputs[name]!.shape;
        const sum = new Float32Array(fed[0]!.feeds.inputs[name]!.size);
        for (const { feeds, pooled } of fed) {
          const values = feeds.inputs[name]!.readF32();
          if (pooled) globalPool(values, shape);
          for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + values[i]!;
        }
        let tensor = Tensor.from(this.device, "f32", shape, sum);
        if (this.dtype === "f16") {
          const half = cast(tensor, "f16");
          tensor.dispose();
          tensor = half;
        }
        made.push(tensor);
        inputs[name] = tensor;
      }
      return { inputs, [Symbol.dispose]: () => made.forEach((x) => x.dispose()) };
    } catch (e) {
      for (const x of made) x.dispose();
      throw e;
    } finally {
      for (const { feeds } of fed) feeds[Symbol.dispose]();
    }
  }

  override dispose(): void {
    for (const p of this.parts) p.guidance.dispose();
    super.dispose();
  }
}
