/**
 * ControlNet conditioning for one generation: control images prepared once, then per denoising
 * step the residuals of every active ControlNet, summed, as the UNet's extra inputs
 * (reference/sd-onnx-layout.md §4: multi-ControlNet = sum; guess mode = the conditional half
 * only, zeros for the unconditional half, residual i × logspace(−1, 0, N)[i];
 * control_guidance_start/end = scale 0 outside i/n ≥ start and (i+1)/n ≤ end, as diffusers).
 */
import { ModelError, UsageError } from "../errors.ts";
import type { Backend } from "../runtime/backend.ts";
import { add, cast } from "../runtime/blend-ops.ts";
import type { TensorInfo } from "../runtime/ort-model.ts";
import { Tensor } from "../runtime/tensor.ts";
import { ControlNet, guessModeScales, residualShape } from "./controlnet.ts";
import { controlImageTensor, type ControlImage } from "./preprocess/control-image.ts";

export interface ControlSpec {
  /** rgb24 frame, u8 [H, W, 3] tensor or f32 [1, 3, H, W] in [0, 1]; resized to the generation size. */
  image: ControlImage;
  /** Default: the model folder's controlnet/. */
  model?: ControlNet;
  /** controlnet_conditioning_scale; default 1. */
  scale?: number;
  /** ControlNet sees only the conditional half; residuals weighted 0.1 → 1. Default false. */
  guessMode?: boolean;
  /** Fractions of the schedule where this control acts; default 0 and 1. */
  start?: number;
  end?: number;
}

/** The UNet inputs that take residuals, down ones (by their index) then the mid one; [] for a plain UNet. */
export function residualInputs(unetInputs: readonly TensorInfo[]): TensorInfo[] {
  const index = (name: string) => Number(/(\d+)$/.exec(name)?.[1] ?? 0);
  const downs = unetInputs.filter((i) => /^down_block/.test(i.name)).sort((a, b) => index(a.name) - index(b.name));
  const mid = unetInputs.find((i) => /^mid_block/.test(i.name));
  return mid ? [...downs, mid] : downs;
}

/** One step's UNet feeds; dispose() releases what this step made (cached zeros survive). */
export interface ControlFeeds extends Disposable {
  inputs: Record<string, Tensor>;
}

interface PreparedControl {
  model: ControlNet;
  scale: number;
  guessMode: boolean;
  start: number;
  end: number;
  /** [1, 3, H, W], and [2, 3, H, W] for a full CFG batch. */
  single: Tensor;
  pair?: Tensor;
}

export class ControlGuidance implements Disposable {
  /** ControlNet runs so far: one per active control per step. */
  runs = 0;
  private readonly controls: PreparedControl[] = [];
  private readonly inputs: TensorInfo[];
  private readonly zeros = new Map<number, Tensor[]>();

  /**
   * `specs` for a `width` × `height` generation of `steps` steps on a UNet with `unetInputs`
   * (`unetDtype` its float type); `fallback` is the folder's ControlNet, used by specs without one.
   */
  constructor(
    specs: readonly ControlSpec[],
    unetInputs: readonly TensorInfo[],
    private readonly unetDtype: "f32" | "f16",
    private readonly backend: Backend,
    private readonly size: { width: number; height: number },
    private readonly steps: number,
    private readonly fallback?: ControlNet,
  ) {
    this.inputs = residualInputs(unetInputs);
    try {
      for (const [k, spec] of specs.entries()) {
        const model = spec.model ?? fallback;
        if (!model) throw new UsageError(`control ${k} names no ControlNet and the model folder has no controlnet/model.onnx`);
        if (this.inputs.length === 0) throw new UsageError("this UNet takes no ControlNet residuals: use a folder whose unet has down_block_N / mid_block_additional_residual inputs");
        if (model.residualCount !== this.inputs.length) {
          throw new ModelError(`${model.model.path} returns ${model.residualCount} residuals but the UNet takes ${this.inputs.length} (${this.inputs.map((i) => i.name).join(", ")})`);
        }
        const scale = spec.scale ?? 1, start = spec.start ?? 0, end = spec.end ?? 1;
        if (!Number.isFinite(scale)) throw new UsageError(`control ${k}: scale ${scale} is not a finite number`);
        if (!(start >= 0 && end <= 1 && start <= end)) throw new UsageError(`control ${k}: start ${start} and end ${end} must satisfy 0 ≤ start ≤ end ≤ 1`);
        const single = controlImageTensor(spec.image, backend, size.width, size.height);
        this.controls.push({ model, scale, guessMode: spec.guessMode ?? false, start, end, single });
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Whether control `k` acts at step `index` (diffusers' control_guidance_start/end rule). */
  isActive(k: number, index: number): boolean {
    const c = this.controls[k]!;
    return c.scale !== 0 && index / this.steps >= c.start && (index + 1) / this.steps <= c.end;
  }

  /**
   * The UNet's extra feeds for `sample` [B, 4, h, w] at step `index`: B = 2 is a CFG batch
   * [uncond; cond] with `context` to match, B = 1 the conditional half alone.
   */
  feeds(sample: Tensor, t: number, index: number, context: Tensor): ControlFeeds {
    const batch = sample.shape[0]!;
    const made: Tensor[] = [];
    let sums: Tensor[] | undefined;
    try {
      for (const [k, c] of this.controls.entries()) {
        if (!this.isActive(k, index)) continue;
        this.runs++;
        const like = this.inputs;
        const n = c.model.residualCount;
        let residuals: Tensor[];
        if (c.guessMode && batch === 2) {
          using x = sample.slice(1, 2);
          using cond = context.slice(1, 2);
          const half = c.model.residuals(x, t, cond, c.single, guessModeScales(n).map((g) => g * c.scale), like, { index });
          residuals = half.map((r) => {
            using owned = r;
            const full = Tensor.empty(this.backend, "f32", [2, ...r.shape.slice(1)]); // zeroed: the uncond half
            this.backend.copy(full.storage, r.byteLength, r.storage, r.byteOffset, r.byteLength);
            return full;
          });
        } else {
          const image = batch === 2 ? this.#pair(c) : c.single;
          residuals = c.model.residuals(sample, t, context, image, c.guessMode ? guessModeScales(n).map((g) => g * c.scale) : c.scale, like, { index });
        }
        if (!sums) {
          sums = residuals;
          made.push(...residuals);
        } else {
          sums.forEach((s, i) => add(s, residuals[i]!, s));
          for (const r of residuals) r.dispose();
        }
      }
      const values = sums ?? this.#zeros(batch, sample.shape[2]!, sample.shape[3]!);
      const fed = this.unetDtype === "f16" ? values.map((v) => cast(v, "f16")) : values;
      if (fed !== values) made.push(...fed);
      const inputs = Object.fromEntries(this.inputs.map((info, i) => [info.name, fed[i]!]));
      return { inputs, [Symbol.dispose]: () => made.forEach((t) => t.dispose()) };
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
  }

  #pair(c: PreparedControl): Tensor {
    if (!c.pair) {
      c.pair = Tensor.concat([c.single, c.single]);
    }
    return c.pair;
  }

  /** All-zero residuals (no control acts): cached per batch size for the whole generation. */
  #zeros(batch: number, h: number, w: number): Tensor[] {
    let z = this.zeros.get(batch);
    if (!z) {
      const net = this.controls[0]?.model ?? this.fallback;
      const shapes = net
        ? net.residualShapes(batch, h, w, this.inputs)
        : this.inputs.map((info, i) => residualShape("unet", i, [info], undefined, batch, h, w));
      z = shapes.map((shape) => Tensor.empty(this.backend, "f32", shape)); // the backend zeroes new memory
      this.zeros.set(batch, z);
    }
    return z;
  }

  dispose(): void {
    for (const c of this.controls) {
      c.single.dispose();
      c.pair?.dispose();
    }
    for (const z of this.zeros.values()) for (const t of z) t.dispose();
    this.zeros.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
