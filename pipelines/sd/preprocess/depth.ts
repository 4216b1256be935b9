/**
 * Depth maps as a ControlNet condition (specs/attention-interpolation.md: a monocular depth
 * estimator, normalised per frame to max 255, three channels), from any ONNX depth model that
 * maps [1, 3, H, W] to [1, H', W'] or [1, 1, H', W'] (`--depth-model FILE`).
 *
 *   using depth = DepthEstimator.load("dpt.onnx", backend);
 *   const cond = depth.estimate(frame);            // grey rgb24, the frame's size
 *
 * The frame goes in as (v / 255 − mean) / std (DPT's processor: 0.5, 0.5), resized to the model's
 * input size when it fixes one. The depth comes back resized to the frame (bilinear) and scaled:
 * `normalize: "frame"` (the reference) maps each frame's own maximum to 255, `"clip"` the largest
 * depth seen so far by this estimator (a running maximum: frames already returned are not
 * revisited, so a stream needs only one pass; the scale only ever shrinks, which removes the
 * per-frame flicker the reference shows once the brightest frame has been seen).
 */
import { ModelError, UsageError } from "../../errors.ts";
import type { Frame } from "../../io/frame.ts";
import type { Backend } from "../../runtime/backend.ts";
import { cast } from "../../runtime/blend-ops.ts";
import { depthToRgb24, rgb24ToPlanes, rowMax } from "../../runtime/edges-ops.ts";
import { OrtModel, type TensorInfo } from "../../runtime/ort-model.ts";
import { Tensor } from "../../runtime/tensor.ts";
import { resizePlanes, rgbTensor } from "./control-image.ts";

export type DepthNormalize = "frame" | "clip";

export interface DepthOptions {
  normalize?: DepthNormalize;
  /** Input normalisation (v / 255 − mean) / std; default 0.5 and 0.5. */
  mean?: number;
  std?: number;
}

export class DepthEstimator implements Disposable {
  /** Largest depth seen so far (for `normalize: "clip"`). */
  runningMax = 0;
  private readonly normalize: DepthNormalize;
  private readonly mean: number;
  private readonly std: number;
  private readonly input: TensorInfo;
  private readonly output: TensorInfo;

  private constructor(private readonly model: OrtModel, options: DepthOptions) {
    this.normalize = options.normalize ?? "frame";
    if (this.normalize !== "frame" && this.normalize !== "clip") throw new UsageError(`depth normalize "${this.normalize}" is not one of frame, clip`);
    this.mean = options.mean ?? 0.5;
    this.std = options.std ?? 0.5;
    const input = model.inputs[0], output = model.outputs[0];
    const ok = (t: TensorInfo | undefined) => t && (t.dtype === "f32" || t.dtype === "f16");
    if (!ok(input) || input!.dims.length !== 4 || input!.dims[1] !== 3 && input!.dims[1] !== -1) {
      throw new ModelError(`${model.path}: a depth model needs a float input [1, 3, H, W]; found ${describe(input)}`);
    }
    if (!ok(output) || (output!.dims.length !== 3 && output!.dims.length !== 4)) {
      throw new ModelError(`${model.path}: a depth model needs a float output [1, H, W] or [1, 1, H, W]; found ${describe(output)}`);
    }
    this.input = input!;
    this.output = output!;
  }

  static load(path: string, backend: Backend, options: DepthOptions = {}): DepthEstimator {
    const model = OrtModel.load(path, backend);
    try {
      return new DepthEstimator(model, options);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** The model's depth for a frame, resized to the frame: f32 [1, H, W], not normalised. */
  depthMap(frame: Frame | Tensor): Tensor {
    const backend = this.model.backend;
    const rgb = rgbTensor(frame, backend);
    const { width, height } = rgb;
    try {
      const fixed = (d: number | undefined, fallback: number) => (d !== undefined && d > 0 ? d : fallback);
      const ih = fixed(this.input.dims[2], height), iw = fixed(this.input.dims[3], width);
      using planes = rgb24ToPlanes(rgb.tensor, this.mean, this.std);
      using sized = resizePlanes(planes, iw, ih);
      using fed = this.input.dtype === "f16" ? cast(sized, "f16") : sized.reshape(sized.shape);
      const od = this.output.dims;
      // an open output size is taken to follow the input (DPT-style heads)
      const oh = fixed(od.at(-2), ih), ow = fixed(od.at(-1), iw);
      using raw = Tensor.empty(backend, this.output.dtype as "f32" | "f16", od.length === 4 ? [1, 1, oh, ow] : [1, oh, ow]);
      this.model.run({ [this.input.name]: fed }, { [this.output.name]: raw });
      using depth = raw.dtype === "f16" ? cast(raw, "f32") : raw.reshape(raw.shape);
      using flat = depth.reshape([1, oh, ow]);
      return resizePlanes(flat, width, height);
    } finally {
      if (rgb.owned) rgb.tensor.dispose();
    }
  }

  /** Grey rgb24 depth u8 [H, W, 3] on the device, normalised as configured. */
  estimateTensor(frame: Frame | Tensor): Tensor {
    using depth = this.depthMap(frame);
    using rowMaxima = rowMax(depth);
    const frameMax = (rowMaxima.read() as Float32Array).reduce((m, v) => (v > m ? v : m), -Infinity);
    if (frameMax > this.runningMax) this.runningMax = frameMax;
    const max = this.normalize === "clip" ? this.runningMax : frameMax;
    return depthToRgb24(depth, max);
  }

  /** Grey rgb24 depth of a frame, the frame's size. */
  estimate(frame: Frame): Frame {
    using image = this.estimateTensor(frame);
    return { width: frame.width, height: frame.height, data: image.read() as Uint8Array };
  }

  /** Forgets the running maximum (a new clip). */
  reset(): void {
    this.runningMax = 0;
  }

  dispose(): void {
    this.model.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function describe(t: TensorInfo | undefined): string {
  return t ? `${t.name} ${t.dtype} [${t.dims.join(", ")}]` : "none";
}
