import { ModelError, UsageError } from "../errors.ts";
import type { Frame } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import { cast, scale } from "../runtime/blend-ops.ts";
import { OrtModel } from "../runtime/ort-model.ts";
import { Tensor } from "../runtime/tensor.ts";

/**
 * VAE decoder and (optional) encoder. Latents here are the UNet's: already multiplied by the
 * scaling factor (sd-onnx-layout.md §2.3–2.4). Images are rgb24 frames; the models see [-1, 1].
 */
export class Vae implements Disposable {
  private constructor(
    private readonly decoder: OrtModel,
    private readonly encoder: OrtModel | undefined,
    readonly scalingFactor: number,
    private readonly dtype: "f32" | "f16",
  ) {}

  static load(decoderPath: string, encoderPath: string | undefined, scalingFactor: number, backend: Backend): Vae {
    const decoder = OrtModel.load(decoderPath, backend);
    const latent = decoder.input("latent_sample");
    if (!latent || !decoder.output("sample") || (latent.dtype !== "f32" && latent.dtype !== "f16")) {
      decoder.dispose();
      throw new ModelError(`${decoderPath}: expected input latent_sample (float) and output sample; found ${decoder.inputs.map((i) => i.name).join(", ")}`);
    }
    let encoder: OrtModel | undefined;
    if (encoderPath) {
      encoder = OrtModel.load(encoderPath, backend);
      if (!encoder.input("sample") || !(encoder.output("latent_parameters") || encoder.output("latent_sample"))) {
        decoder.dispose();
        encoder.dispose();
        throw new ModelError(`${encoderPath}: expected input sample and output latent_parameters or latent_sample`);
      }
    }
    return new Vae(decoder, encoder, scalingFactor, latent.dtype);
  }

  /** Latents [1, 4, h, w] (f32) → an rgb24 frame of 8w × 8h. */
  decode(latents: Tensor): Frame {
    const [, , h = 0, w = 0] = latents.shape;
    const backend = latents.backend;
    using unscaled = scale(latents, 1 / this.scalingFactor);
    using input = this.dtype === "f16" ? cast(unscaled, "f16") : unscaled.reshape(unscaled.shape);
    using image = Tensor.empty(backend, this.dtype, [1, 3, 8 * h, 8 * w]);
    this.decoder.run({ latent_sample: input }, { sample: image });
    return planarToFrame(image.readF32(), 8 * w, 8 * h);
  }

  /**
   * An rgb24 frame → latents [1, 4, h/8, w/8] (f32, scaled). Uses the distribution's mean, so the
   * result is deterministic (diffusers' "argmax" mode); exports that sample inside the graph
   * (`latent_sample`) are used as they are.
   */
  encode(frame: Frame, backend: Backend): Tensor {
    if (!this.encoder) throw new ModelError("this model folder has no vae_encoder/model.onnx, which img2img needs");
    if (frame.width % 8 || frame.height % 8) {
      throw new UsageError(`image size ${frame.width}x${frame.height} is not a multiple of 8`);
    }
    const [h, w] = [frame.height / 8, frame.width / 8];
    const inputDtype = this.encoder.input("sample")!.dtype === "f16" ? "f16" : "f32";
    const planar = frameToPlanar(frame);
    using image =
      inputDtype === "f16"
        ? Tensor.from(backend, "f16", [1, 3, frame.height, frame.width], new Uint16Array(Float16Array.from(planar).buffer))
        : Tensor.from(backend, "f32", [1, 3, frame.height, frame.width], planar);
    const parameters = this.encoder.output("latent_parameters");
    const name = parameters ? "latent_parameters" : "latent_sample";
    using out = Tensor.empty(backend, inputDtype, [1, parameters ? 8 : 4, h, w]);
    this.encoder.run({ sample: image }, { [name]: out });
    // latent_parameters holds the mean in channels 0–3, then the log-variance
    const mean = out.readF32().subarray(0, 4 * h * w);
    const latents = Tensor.from(backend, "f32", [1, 4, h, w], mean);
    return scale(latents, this.scalingFactor, latents);
  }

  dispose(): void {
    this.decoder.dispose();
    this.encoder?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** [3, H, W] in [-1, 1] → rgb24, as diffusers: clip(x / 2 + 0.5, 0, 1) · 255, rounded. */
export function planarToFrame(planar: Float32Array, width: number, height: number): Frame {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const v = (planar[c * n + i]! / 2 + 0.5) * 255;
      data[i * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return { width, height, data };
}

/** rgb24 → [3, H, W] in [-1, 1]. */
export function frameToPlanar(frame: Frame): Float32Array {
  const n = frame.width * frame.height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[c * n + i] = (frame.data[i * 3 + c]! / 255) * 2 - 1;
  }
  return out;
}
