import { axpby, axpbypcz, clamp, scale } from "../runtime/blend-ops.ts";
import type { Tensor } from "../runtime/tensor.ts";
import type { LatentOps } from "./schedulers/index.ts";

/** Scheduler arithmetic on device tensors through the blend kernels (one launch per 1–3 terms). */
export const tensorOps: LatentOps<Tensor> = {
  combine(terms) {
    const [first, second, third, ...rest] = terms;
    if (!first) throw new RangeError("combine needs at least one term");
    let acc: Tensor;
    if (!second) acc = scale(first[1], first[0]);
    else if (!third) acc = axpby(first[0], first[1], second[0], second[1]);
    else acc = axpbypcz(first[0], first[1], second[0], second[1], third[0], third[1]);
    for (const [c, x] of rest) axpby(1, acc, c, x, acc);
    return acc;
  },
  clamp: (x, lo, hi) => clamp(x, lo, hi),
  dispose: (x) => x.dispose(),
};
