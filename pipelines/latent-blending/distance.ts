/**
 * How different two decoded frames look: the adaptive tree splits the neighbouring pair with the
 * largest distance (spec §C2–C3). Two kinds:
 *  - structural (built in): multi-scale SSIM on luma, computed on the device by kernels/image.cu;
 *    distance = 1 − the mean over scales of the mean SSIM map (0 for equal images).
 *  - perceptual: an ONNX model (LPIPS-style) taking two images [1, 3, H, W] in [−1, 1] and giving
 *    a scalar distance, run through OrtModel on the same device.
 */
import { ModelError } from "../errors.ts";
import type { Frame } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import { downsample2, rgb24ToLuma, rowSums, ssimMap } from "../runtime/image-ops.ts";
import { OrtModel } from "../runtime/ort-model.ts";
import { Tensor } from "../runtime/tensor.ts";
import { frameToPlanar } from "../sd/vae.ts";

export interface ImageDistance extends Disposable {
  readonly name: string;
  distance(a: Frame, b: Frame): number;
}

export interface SsimOptions {
  /** Scales (each half the size of the last) while the smaller side stays ≥ 8. Default 3. */
  scales?: number;
  /** Window radius: a (2r+1)² box. Default 3 (7×7). */
  radius?: number;
}

/** SSIM constants for values in [0, 1]: (0.01·L)² and (0.03·L)². */
const C1 = 1e-4;
const C2 = 9e-4;

/** Multi-scale structural distance on the device; 1 − mean SSIM, in [0, 2]. */
export class SsimDistance implements ImageDistance {
  readonly name = "ms-ssim";
  private readonly scales: number;
  private readonly radius: number;

  constructor(
    private readonly backend: Backend,
    options: SsimOptions = {},
  ) {
    this.scales = options.scales ?? 3;
    this.radius = options.radius ?? 3;
  }

  distance(a: Frame, b: Frame): number {
    if (a.width !== b.width || a.height !== b.height) {
      throw new RangeError(`cannot compare a ${a.width}x${a.height} frame with a ${b.width}x${b.height} one`);
    }
    let w = a.width, h = a.height;
    let la = this.luma(a);
    let lb = this.luma(b);
    let total = 0, used = 0;
    try {
      for (let s = 0; s < this.scales; s++) {
        total += this.meanSsim(la, lb, w, h);
        used++;
        const ow = Math.floor(w / 2), oh = Math.floor(h / 2);
        if (s + 1 === this.scales || Math.min(ow, oh) < 8) break;
        const [da, db] = [downsample2(la), downsample2(lb)];
        la.dispose();
        lb.dispose();
        [la, lb, w, h] = [da, db, ow, oh];
      }
    } finally {
      la.dispose();
      lb.dispose();
    }
    return 1 - total / used;
  }

  /** Luma plane f32 [H, W] of a frame. */
  private luma(f: Frame): Tensor {
    using rgb = Tensor.from(this.backend, "u8", [f.height, f.width, 3], f.data);
    return rgb24ToLuma(rgb);
  }

  private meanSsim(a: Tensor, b: Tensor, w: number, h: number): number {
    using map = ssimMap(a, b, { radius: this.radius, c1: C1, c2: C2 });
    using sums = rowSums(map);
    let total = 0;
    for (const v of sums.readF32()) total += v;
    return total / (w * h);
  }

  [Symbol.dispose](): void {}
}

/** An ONNX image-distance model: two inputs [1, 3, H, W] in [−1, 1], one scalar output. */
export class PerceptualDistance implements ImageDistance {
  readonly name: string;
  private constructor(
    private readonly model: OrtModel,
    private readonly inputNames: [string, string],
    private readonly outputName: string,
    private readonly outputShape: number[],
  ) {
    this.name = `perceptual(${model.path})`;
  }

  static load(path: string, backend: Backend): PerceptualDistance {
    const model = OrtModel.load(path, backend);
    const floats = model.inputs.filter((i) => i.dtype === "f32");
    const out = model.outputs[0];
    if (floats.length !== 2 || model.inputs.length !== 2 || !out || out.dtype !== "f32") {
      model.dispose();
      throw new ModelError(
        `${path}: a perceptual model needs two f32 image inputs [1, 3, H, W] and an f32 scalar output; found inputs ${model.inputs.map((i) => `${i.name}:${i.dtype}`).join(", ")}`,
      );
    }
    // Open dimensions of the distance output (batch) are 1: one pair at a time.
    const shape = out.dims.map((d) => (d > 0 ? d : 1));
    if (shape.reduce((x, y) => x * y, 1) !== 1) {
      model.dispose();
      throw new ModelError(`${path}: the distance output ${out.name} has shape [${out.dims.join(", ")}], expected one value`);
    }
    return new PerceptualDistance(model, [floats[0]!.name, floats[1]!.name], out.name, shape);
  }

  distance(a: Frame, b: Frame): number {
    const backend = this.model.backend;
    using ta = Tensor.from(backend, "f32", [1, 3, a.height, a.width], frameToPlanar(a));
    using tb = Tensor.from(backend, "f32", [1, 3, b.height, b.width], frameToPlanar(b));
    using out = Tensor.empty(backend, "f32", this.outputShape);
    this.model.run({ [this.inputNames[0]]: ta, [this.inputNames[1]]: tb }, { [this.outputName]: out });
    return out.readF32()[0]!;
  }

  [Symbol.dispose](): void {
    this.model.dispose();
  }
}

/** Mean absolute difference of the bytes, in [0, 255]: the plain pixel metric of the benchmark. */
export function meanAbsoluteDifference(a: Frame, b: Frame): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! - b.data[i]!);
  return s / a.data.length;
}
