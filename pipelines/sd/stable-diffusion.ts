/**
 * Text-to-image and image-to-image on a Stable Diffusion ONNX export.
 *
 *   using sd = await StableDiffusion.load("tiny");
 *   const frame = sd.generate({ prompt: "a red fox in the snow", seed: 7, steps: 8 });
 *   await writePngFile("fox.png", frame);
 *
 * Latents stay on the device from the first noise to the decode; the scheduler's arithmetic runs
 * as kernels (tensor-ops.ts). Classifier-free guidance batches uncond and cond in one UNet call.
 * ControlNets (`control`) add their residuals to a residual-taking UNet (control-guidance.ts).
 */
import type { Frame } from "../io/frame.ts";
import { resolveModelDir } from "./tiny/index.ts";
import type { Backend } from "../runtime/backend.ts";
import { axpby } from "../runtime/blend-ops.ts";
import { openDevice } from "../runtime/device.ts";
import { Tensor } from "../runtime/tensor.ts";
import { ControlGuidance, residualInputs, type ControlSpec } from "./control-guidance.ts";
import { ControlNet } from "./controlnet.ts";
import { readModelFolder, type ModelFolder } from "./model-folder.ts";
import { Rng } from "./random.ts";
import { sample, type Denoise, type StepInfo } from "./sampler.ts";
import { createScheduler, type Scheduler, type SchedulerKind } from "./schedulers/index.ts";
import { tensorOps } from "./tensor-ops.ts";
import { TextEncoder } from "./text-encoder.ts";
import { Unet } from "./unet.ts";
import { checkUnetSize } from "./unet-size.ts";
import { Vae } from "./vae.ts";

export interface GenerateOptions {
  prompt: string;
  negativePrompt?: string;
  steps?: number;
  /** Classifier-free guidance scale; ≤ 1 runs the conditional half only. */
  guidance?: number;
  seed?: number;
  width?: number;
  height?: number;
  scheduler?: SchedulerKind;
  /** img2img: the picture to start from, and how much of the schedule to run on it (0–1]. */
  image?: Frame;
  strength?: number;
  /** After each step; may return replacement latents (later jobs steer with this). */
  onStep?: (info: StepInfo<Tensor>) => Tensor | void;
  /** ControlNets steering this generation (their residuals are summed); needs a residual-taking UNet. */
  control?: readonly ControlSpec[];
}

export const GENERATE_DEFAULTS = {
  negativePrompt: "",
  steps: 8,
  guidance: 7.5,
  seed: 0,
  width: 256,
  height: 256,
  scheduler: "ddim" as SchedulerKind,
  strength: 0.6,
};

/** Text embeddings ready for the UNet: [uncond; cond] with guidance, [cond] without. */
export interface Conditioning {
  context: Tensor;
  guidance: number;
}

export class StableDiffusion implements Disposable {
  private constructor(
    readonly folder: ModelFolder,
    readonly backend: Backend,
    readonly textEncoder: TextEncoder,
    readonly unet: Unet,
    readonly vae: Vae,
    /** The folder's controlnet/model.onnx, when it has one. */
    readonly controlnet?: ControlNet,
  ) {}

  /** `model` is a built-in `tiny*` variant (built on first use) or an export folder. */
  static async load(model = "tiny", options: { device?: string; log?: (line: string) => void } = {}): Promise<StableDiffusion> {
    const { backend, reason } = openDevice(options.device ?? "cpu");
    if (options.device === "auto") options.log?.(reason);
    const folder = readModelFolder(await resolveModelDir(model));
    const textEncoder = await TextEncoder.load(folder.textEncoder, folder.tokenizer, backend);
    const unet = Unet.load(folder.unet, backend);
    const vae = Vae.load(folder.vaeDecoder, folder.vaeEncoder, folder.vaeScale, backend);
    const controlnet = folder.controlnet ? ControlNet.load(folder.controlnet, backend) : undefined;
    return new StableDiffusion(folder, backend, textEncoder, unet, vae, controlnet);
  }

  /** A fresh scheduler of `kind` for this model's training schedule, set to `steps`. */
  scheduler(kind: SchedulerKind, steps: number, strength?: number): Scheduler {
    const scheduler = createScheduler(this.folder.schedulerConfig, kind);
    scheduler.setTimesteps(steps, strength === undefined ? {} : { strength });
    return scheduler;
  }

  /** Encodes the prompt (and the negative prompt when guidance is on) in one text-encoder call. */
  condition(prompt: string, negativePrompt: string, guidance: number): Conditioning {
    const context = this.textEncoder.encode(guidance > 1 ? [negativePrompt, prompt] : [prompt]);
    return { context, guidance };
  }

  /** Standard normal latents [1, 4, h/8, w/8] from `seed` (random.ts: same bytes everywhere). */
  noise(seed: number, width: number, height: number): Tensor {
    this.checkSize(width, height);
    const shape = [1, 4, height / 8, width / 8];
    const values = new Rng(seed).normal(new Float32Array(shape.reduce((a, b) => a * b)));
    return Tensor.from(this.backend, "f32", shape, values);
  }

  /**
   * The UNet with classifier-free guidance: ε = ε_u + g·(ε_c − ε_u), one batched call. `control`
   * adds ControlNet residuals; a residual-taking UNet without it gets zero residuals.
   */
  guidedDenoiser(conditioning: Conditioning, control?: ControlGuidance): Denoise<Tensor> {
    const { context, guidance } = conditioning;
    const needsResiduals = !control && residualInputs(this.unet.model.inputs).length > 0;
    const extra = (sample: Tensor, t: number, index: number) =>
      control?.feeds(sample, t, index, context) ??
      (needsResiduals ? this.#zeroResiduals(sample, t, index) : undefined);
    return (x, t, index) => {
      if (guidance <= 1) {
        using feeds = extra(x, t, index);
        return this.unet.predict(x, t, context, feeds?.inputs ?? {}, { index });
      }
      using batch = Tensor.concat([x, x]);
      using feeds = extra(batch, t, index);
      using eps = this.unet.predict(batch, t, context, feeds?.inputs ?? {}, { index });
      using uncond = eps.slice(0, 1);
      using cond = eps.slice(1, 2);
      return axpby(1 - guidance, uncond, guidance, cond);
    };
  }

  /** Runs the schedule on `latents` and returns the final latents (a new tensor). */
  denoise(options: {
    latents: Tensor;
    conditioning: Conditioning;
    scheduler: Scheduler;
    seed: number;
    startIndex?: number;
    onStep?: (info: StepInfo<Tensor>) => Tensor | void;
    control?: ControlGuidance;
  }): Tensor {
    // Step noise (ancestral samplers, LCM) comes from its own stream so it never shifts the
    // initial noise of the same seed.
    const stepNoise = new Rng(options.seed).fork(1);
    const shape = options.latents.shape;
    return sample({
      scheduler: options.scheduler,
      ops: tensorOps,
      latents: options.latents,
      denoise: this.guidedDenoiser(options.conditioning, options.control),
      noise: () => Tensor.from(this.backend, "f32", shape, stepNoise.normal(new Float32Array(options.latents.size))),
      startIndex: options.startIndex,
      onStep: options.onStep,
    });
  }

  /** One image: txt2img, or img2img when `image` is given. */
  generate(options: GenerateOptions): Frame {
    using latents = this.generateLatents(options);
    return this.vae.decode(latents);
  }

  /** Throws a UsageError for a size this UNet cannot run (unet-size.ts). */
  checkSize(width: number, height: number): void {
    checkUnetSize(this.unet.hooks, width, height);
  }

  /** Like generate() but stops before the VAE: the final latents. */
  generateLatents(options: GenerateOptions): Tensor {
    const o = { ...GENERATE_DEFAULTS, ...options };
    const width = options.image?.width ?? o.width;
    const height = options.image?.height ?? o.height;
    this.checkSize(width, height);
    const scheduler = this.scheduler(o.scheduler, o.steps, options.image ? o.strength : undefined);
    const conditioning = this.condition(o.prompt, o.negativePrompt, o.guidance);
    using context = conditioning.context;
    using noise = this.noise(o.seed, width, height);
    let start: Tensor;
    if (options.image) {
      using clean = this.vae.encode(options.image, this.backend);
      start = scheduler.addNoise(tensorOps, clean, noise, scheduler.timesteps[0]!);
    } else {
      start = tensorOps.combine([[scheduler.initNoiseSigma, noise]]);
    }
    using initial = start;
    using control = options.control?.length ? this.controlGuidance(options.control, width, height, scheduler.timesteps.length) : undefined;
    return this.denoise({ latents: initial, conditioning, scheduler, seed: o.seed, onStep: o.onStep, control });
  }

  /** ControlNet conditioning for a `width` × `height` generation of `steps` steps (control images converted once). */
  controlGuidance(specs: readonly ControlSpec[], width: number, height: number, steps: number): ControlGuidance {
    return new ControlGuidance(specs, this.unet.model.inputs, this.unet.dtype, this.backend, { width, height }, steps, this.controlnet);
  }

  /** Zero residuals for one UNet call, for a residual-taking UNet run without control. */
  #zeroResiduals(sample: Tensor, t: number, index: number) {
    const zero = new ControlGuidance([], this.unet.model.inputs, this.unet.dtype, this.backend, { width: 8, height: 8 }, 1, this.controlnet);
    const feeds = zero.feeds(sample, t, index, sample);
    return { inputs: feeds.inputs, [Symbol.dispose]: () => zero.dispose() };
  }

  dispose(): void {
    this.textEncoder.dispose();
    this.unet.dispose();
    this.vae.dispose();
    this.controlnet?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

