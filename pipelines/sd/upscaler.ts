/**
 * The Stable Diffusion x4 upscaler (diffusers' StableDiffusionUpscalePipeline layout; the tiny
 * stand-in and what we found of the real export: pipelines/sd/tiny/upscaler.ts).
 *
 *   using up = await Upscaler.load("tiny-upscaler");
 *   const big = up.upscale(frame, { prompt: "a harbour", seed: 1, steps: 8 });   // 4× the size
 *
 * The low-res picture enters the UNet in pixel space beside the latents (7 channels), after a
 * noise augmentation by the low-res DDPM schedule at `noiseLevel` (also fed as `class_labels`).
 * Latents are at the low-res pixel size; the VAE decoder makes them 4× larger.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ModelError, UsageError } from "../errors.ts";
import type { Frame } from "../io/frame.ts";
import { resolveModelDir } from "./tiny/index.ts";
import type { Backend } from "../runtime/backend.ts";
import { axpby, scale } from "../runtime/blend-ops.ts";
import { OrtModel } from "../runtime/ort-model.ts";
import { Tensor } from "../runtime/tensor.ts";
import { readModelFolder, type ModelFolder } from "./model-folder.ts";
import { Rng } from "./random.ts";
import { sample, type Denoise } from "./sampler.ts";
import { createScheduler, type Scheduler, type SchedulerKind } from "./schedulers/index.ts";
import type { Conditioning } from "./stable-diffusion.ts";
import { tensorOps } from "./tensor-ops.ts";
import { TextEncoder } from "./text-encoder.ts";
import { Unet } from "./unet.ts";
import { frameToPlanar, planarToFrame } from "./vae.ts";

export interface UpscaleOptions {
  prompt?: string;
  negativePrompt?: string;
  seed?: number;
  steps?: number;
  guidance?: number;
  noiseLevel?: number;
  scheduler?: SchedulerKind;
}

export const UPSCALE_DEFAULTS = { prompt: "", negativePrompt: "", seed: 0, steps: 20, guidance: 9, noiseLevel: 20, scheduler: "ddim" as SchedulerKind };

export class Upscaler implements Disposable {
  private constructor(
    readonly folder: ModelFolder,
    readonly backend: Backend,
    readonly textEncoder: TextEncoder,
    readonly unet: Unet,
    private readonly decoder: OrtModel,
    /** ᾱ of the low-res (augmentation) schedule, t = 0…T−1. */
    private readonly lowResAlphas: Float64Array,
    readonly maxNoiseLevel: number,
  ) {}

  /** `model` is `tiny-upscaler` (built on first use) or an x4 upscaler export folder. */
  static async load(model: string, backend: Backend): Promise<Upscaler> {
    const folder = readModelFolder(await resolveModelDir(model));
    const index = readJson(join(folder.dir, "model_index.json"));
    const lowResPath = join(folder.dir, "low_res_scheduler", "scheduler_config.json");
    if (!existsSync(lowResPath)) throw new ModelError(`${lowResPath} is missing: an x4 upscaler folder needs its low_res_scheduler config`);
    const lowRes = readJson(lowResPath);
    const textEncoder = await TextEncoder.load(folder.textEncoder, folder.tokenizer, backend);
    let unet: Unet | undefined;
    try {
      unet = Unet.load(folder.unet, backend);
      if (unet.inChannels !== 7 || !unet.extraInputs.includes("class_labels")) {
        throw new ModelError(`${folder.unet}: an x4 upscaler UNet takes sample with 7 channels and class_labels; this one has ${unet.inChannels} channels and extra inputs [${unet.extraInputs.join(", ")}]`);
      }
      const decoder = OrtModel.load(folder.vaeDecoder, backend);
      return new Upscaler(folder, backend, textEncoder, unet, decoder, lowResAlphasCumprod(lowRes), Number(index.max_noise_level ?? 350));
    } catch (e) {
      textEncoder.dispose();
      unet?.dispose();
      throw e;
    }
  }

  /** The main scheduler (the x4 model predicts v; the config says so). */
  scheduler(kind: SchedulerKind, steps: number): Scheduler {
    const s = createScheduler(this.folder.schedulerConfig, kind);
    s.setTimesteps(steps);
    return s;
  }

  condition(prompt: string, negativePrompt: string, guidance: number): Conditioning {
    return { context: this.textEncoder.encode(guidance > 1 ? [negativePrompt, prompt] : [prompt]), guidance };
  }

  /** Standard normal latents [1, 4, H, W] at the low-res pixel size. */
  noise(seed: number, width: number, height: number): Tensor {
    const shape = [1, 4, height, width];
    return Tensor.from(this.backend, "f32", shape, new Rng(seed).normal(new Float32Array(4 * width * height)));
  }

  /**
   * The noise-augmented low-res picture [1, 3, H, W]: √ᾱ·x + √(1 − ᾱ)·z at `noiseLevel` of the
   * low-res schedule (DDPM add_noise), x in [−1, 1], z from `seed`.
   */
  augment(frame: Frame, noiseLevel: number, seed: number): Tensor {
    this.checkNoiseLevel(noiseLevel);
    const shape = [1, 3, frame.height, frame.width];
    using clean = Tensor.from(this.backend, "f32", shape, frameToPlanar(frame));
    using z = Tensor.from(this.backend, "f32", shape, new Rng(seed).fork(3).normal(new Float32Array(3 * frame.width * frame.height)));
    const ac = this.lowResAlphas[noiseLevel]!;
    return axpby(Math.sqrt(ac), clean, Math.sqrt(1 - ac), z);
  }

  /** CFG UNet over [latents; image] with the noise level as class label, uncond and cond batched. */
  denoiser(conditioning: Conditioning, image: Tensor, noiseLevel: number): Denoise<Tensor> {
    this.checkNoiseLevel(noiseLevel);
    const { context, guidance } = conditioning;
    const batch = context.shape[0]!;
    return (x, t, index) => {
      const [, , h = 0, w = 0] = x.shape;
      if (image.shape[2] !== h || image.shape[3] !== w) throw new RangeError(`upscaler image [${image.shape}] does not match latents [${x.shape}]`);
      using input = Tensor.empty(this.backend, "f32", [batch, 7, h, w]);
      for (let b = 0; b < batch; b++) {
        const at = b * 7 * h * w * 4;
        this.backend.copy(input.storage, at, x.storage, x.byteOffset, x.byteLength);
        this.backend.copy(input.storage, at + x.byteLength, image.storage, image.byteOffset, image.byteLength);
      }
      using labels = Tensor.from(this.backend, "i64", [batch], BigInt64Array.from({ length: batch }, () => BigInt(noiseLevel)));
      const out = this.unet.predict(input, t, context, { class_labels: labels }, { index });
      // condition() batches [uncond; cond] exactly when guidance > 1
      if (batch === 1) return out;
      using both = out;
      using uncond = both.slice(0, 1);
      using cond = both.slice(1, 2);
      return axpby(1 - guidance, uncond, guidance, cond);
    };
  }

  /** Latents [1, 4, h, w] → an rgb24 frame 4w × 4h. */
  decode(latents: Tensor): Frame {
    const [, , h = 0, w = 0] = latents.shape;
    using input = scale(latents, 1 / this.folder.vaeScale);
    using image = Tensor.empty(this.backend, "f32", [1, 3, 4 * h, 4 * w]);
    this.decoder.run({ latent_sample: input }, { sample: image });
    return planarToFrame(image.readF32(), 4 * w, 4 * h);
  }

  /** One picture, 4× larger. */
  upscale(frame: Frame, options: UpscaleOptions = {}): Frame {
    const o = { ...UPSCALE_DEFAULTS, ...options };
    const scheduler = this.scheduler(o.scheduler, o.steps);
    const conditioning = this.condition(o.prompt, o.negativePrompt, o.guidance);
    using context = conditioning.context;
    using image = this.augment(frame, o.noiseLevel, o.seed);
    using noise = this.noise(o.seed, frame.width, frame.height);
    using start = scale(noise, scheduler.initNoiseSigma);
    const stepNoise = new Rng(o.seed).fork(1);
    using latents = sample({
      scheduler,
      ops: tensorOps,
      latents: start,
      denoise: this.denoiser(conditioning, image, o.noiseLevel),
      noise: () => Tensor.from(this.backend, "f32", start.shape, stepNoise.normal(new Float32Array(start.size))),
    });
    return this.decode(latents);
  }

  private checkNoiseLevel(level: number): void {
    if (!Number.isInteger(level) || level < 0 || level > this.maxNoiseLevel) {
      throw new UsageError(`upscaler noise level ${level} is out of range: an integer in [0, ${this.maxNoiseLevel}]`);
    }
  }

  dispose(): void {
    this.textEncoder.dispose();
    this.unet.dispose();
    this.decoder.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** ᾱ of a DDPM config (linear or scaled_linear betas; the x4 low-res schedule is scaled_linear). */
export function lowResAlphasCumprod(config: Record<string, unknown>): Float64Array {
  const n = Number(config.num_train_timesteps ?? 1000);
  const start = Number(config.beta_start ?? 0.0001), end = Number(config.beta_end ?? 0.02);
  const kind = String(config.beta_schedule ?? "linear");
  if (kind !== "linear" && kind !== "scaled_linear") throw new ModelError(`low_res_scheduler beta_schedule "${kind}" is not supported; valid: linear, scaled_linear`);
  const out = new Float64Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) {
    const f = n === 1 ? 0 : i / (n - 1);
    const beta = kind === "linear" ? start + (end - start) * f : (Math.sqrt(start) + (Math.sqrt(end) - Math.sqrt(start)) * f) ** 2;
    prod *= 1 - beta;
    out[i] = prod;
  }
  return out;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new ModelError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}
