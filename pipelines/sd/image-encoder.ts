/**
 * The image embedder of a video export (`image_encoder/`, docs/video-models.md): a picture →
 * the UNet's image tokens [1, N, D] (VideoCrafter's OpenCLIP ViT-H/14 + Resampler as one graph).
 *
 *   using encoder = ImageEncoder.load(`${dir}/image_encoder/model.onnx`, backend);
 *   using tokens = encoder.embed(frame);   // [1, 16, D]
 *
 * The picture is resized bilinearly to the encoder's square size and normalised with CLIP's mean
 * and std (config.json beside the model may give others: image_size, image_mean, image_std).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ModelError } from "../errors.ts";
import type { Frame } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import { OrtModel } from "../runtime/ort-model.ts";
import { Tensor } from "../runtime/tensor.ts";
import { controlImageTensor } from "./preprocess/control-image.ts";

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

export class ImageEncoder implements Disposable {
  private constructor(
    private readonly model: OrtModel,
    readonly size: number,
    private readonly mean: readonly number[],
    private readonly std: readonly number[],
    readonly tokens: number,
  ) {}

  static load(path: string, backend: Backend): ImageEncoder {
    const model = OrtModel.load(path, backend);
    const pixels = model.input("pixel_values");
    const out = model.output("image_embeds");
    if (!pixels || !out || pixels.dtype !== "f32" || out.dtype !== "f32") {
      model.dispose();
      throw new ModelError(`${path}: expected input pixel_values (f32) and output image_embeds (f32); found inputs ${model.inputs.map((i) => i.name).join(", ")}`);
    }
    const configPath = join(dirname(path), "config.json");
    const config = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>) : {};
    const fixed = pixels.dims[2]! > 0 ? pixels.dims[2]! : undefined;
    const size = Number(config.image_size ?? fixed ?? 224);
    const tokens = out.dims[1]! > 0 ? out.dims[1]! : -1;
    return new ImageEncoder(model, size, (config.image_mean as number[]) ?? CLIP_MEAN, (config.image_std as number[]) ?? CLIP_STD, tokens);
  }

  /** The image tokens of `frame`, [1, N, D] f32 on the model's backend. */
  embed(frame: Frame): Tensor {
    const backend: Backend = this.model.backend;
    using planes = controlImageTensor(frame, backend, this.size, this.size);
    const data = planes.readF32();
    const n = this.size * this.size;
    for (let c = 0; c < 3; c++) {
      for (let i = c * n; i < (c + 1) * n; i++) data[i] = (data[i]! - this.mean[c]!) / this.std[c]!;
    }
    using pixels = Tensor.from(backend, "f32", [1, 3, this.size, this.size], data);
    const info = this.model.output("image_embeds")!;
    const shape = info.dims.map((d, i) => (i === 0 ? 1 : d));
    if (shape.some((d) => d < 0)) {
      return this.model.runAllocating({ pixel_values: pixels }, ["image_embeds"]).image_embeds!;
    }
    const out = Tensor.empty(backend, "f32", shape);
    this.model.run({ pixel_values: pixels }, { image_embeds: out });
    return out;
  }

  dispose(): void {
    this.model.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
