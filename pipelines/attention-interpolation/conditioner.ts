/**
 * The ControlNet condition of each frame (spec "ControlNet condition preprocessing"): canny
 * edges (grey → Canny 50/200 → three channels) or a depth map.
 */
import { UsageError } from "../errors.ts";
import type { Frame } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { cannyTensor } from "../sd/preprocess/canny.ts";
import { DepthEstimator, type DepthNormalize } from "../sd/preprocess/depth.ts";

export const CONTROL_PROCESSORS = ["canny", "depth"] as const;
export type ControlProcessor = (typeof CONTROL_PROCESSORS)[number];

/** A frame's control image; disposing it frees what the preprocessor made. */
export interface Condition extends Disposable {
  image: Tensor | Frame;
}

/** Makes each frame's condition; disposing it releases the preprocessor's model. */
export interface Conditioner extends Disposable {
  (frame: Frame): Condition;
}

export interface ConditionerOptions {
  /** ONNX depth model, for `depth`. */
  depthModel?: string | null;
  /** "frame" (the reference: each frame's max → 255) or "clip" (a running max, less flicker). */
  depthNormalize?: DepthNormalize;
}

export function createConditioner(processor: ControlProcessor, backend: Backend, options: ConditionerOptions = {}): Conditioner {
  switch (processor) {
    case "canny":
      return Object.assign(
        (frame: Frame): Condition => {
          const image = cannyTensor(frame, backend).image;
          return { image, [Symbol.dispose]: () => image.dispose() };
        },
        { [Symbol.dispose]: () => {} },
      );
    case "depth": {
      if (!options.depthModel) throw new UsageError("controlnet_processor depth needs an ONNX depth model: --depth-model FILE");
      const depth = DepthEstimator.load(options.depthModel, backend, { normalize: options.depthNormalize ?? "frame" });
      return Object.assign((frame: Frame): Condition => ({ image: depth.estimate(frame), [Symbol.dispose]: () => {} }), {
        [Symbol.dispose]: () => depth.dispose(),
      });
    }
    default:
      throw new UsageError(`controlnet_processor "${processor}" is not available: expected one of ${CONTROL_PROCESSORS.join(", ")}`);
  }
}
