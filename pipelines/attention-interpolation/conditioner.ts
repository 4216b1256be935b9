/**
 * The ControlNet condition of each frame (spec "ControlNet condition preprocessing"): canny
 * edges (grey → Canny 50/200 → three channels) or a depth map.
 */
import { UsageError } from "../errors.ts";
import type { Frame } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { cannyTensor } from "../sd/preprocess/canny.ts";

export const CONTROL_PROCESSORS = ["canny", "depth"] as const;
export type ControlProcessor = (typeof CONTROL_PROCESSORS)[number];

/** A frame's control image; disposing it frees what the preprocessor made. */
export interface Condition extends Disposable {
  image: Tensor;
}

export type Conditioner = (frame: Frame) => Condition;

export function createConditioner(processor: ControlProcessor, backend: Backend): Conditioner {
  switch (processor) {
    case "canny":
      return (frame) => {
        const image = cannyTensor(frame, backend).image;
        return { image, [Symbol.dispose]: () => image.dispose() };
      };
    default:
      throw new UsageError(`controlnet_processor "${processor}" is not available: expected one of ${CONTROL_PROCESSORS.join(", ")}`);
  }
}
