/**
 * Latent blending: smooth transition videos between prompts (or images) through a branching
 * diffusion tree. Ref: shared/specs/latent-blending.md; docs/latent-blending.md.
 *
 *   using lb = await LatentBlending.load({ model: "tiny" });
 *   const cfg = { seed: 7, steps: 10, width: 256, height: 256, fps: 24, duration: 3 };
 *   await using out = openFrameSink("out/x.mp4", lb.meta(cfg));
 *   for await (const frame of lb.transition(["a forest", "a desert", "the sea"], cfg)) await out.write(frame);
 *
 * Keyframes are full runs (byte-identical to txt2img with the same seed); in-betweens branch off
 * their parents mid-schedule. Each transition's frames are yielded once its tree is complete (the
 * order of diffused frames is only known then); the very first keyframe is yielded at once.
 */
import { UsageError } from "../errors.ts";
import type { Frame, StreamMeta } from "../io/frame.ts";
import type { Tensor } from "../runtime/tensor.ts";
import type { Denoise } from "../sd/sampler.ts";
import type { SchedulerKind } from "../sd/schedulers/index.ts";
import { inpaintDenoiser } from "../sd/inpaint.ts";
import { StableDiffusion, type Conditioning } from "../sd/stable-diffusion.ts";
import { Upscaler } from "../sd/upscaler.ts";
import { PerceptualDistance, SsimDistance, type ImageDistance } from "./distance.ts";
import { allocateInbetweens, fillGaps, framesPerTransition } from "./frame-fill.ts";
import { TransitionMask } from "./inpaint.ts";
import { computeKeyframe, type KeyframeSpec } from "./keyframes.ts";
import {
  autosetupBranching,
  branch1CrossfeedArray,
  loadBranchingProfile,
  QUALITY_PRESETS,
  setupBranching,
  timeBasedBranching,
  type AdaptiveBranching,
  type Crossfeed,
  type FixedBranching,
  type Quality,
} from "./schedules.ts";
import { adaptiveTree, fixedTree, type TransitionImages, type TreeContext } from "./trees.ts";
import { disposeLatents, emptyStats, type BlendEngine, type BlendStats, type TreeNode } from "./trajectory.ts";
import { upscaleTransition, type UpscaleStage } from "./upscale.ts";

export * from "./schedules.ts";
export { allocateInbetweens, crossfade, fillGaps } from "./frame-fill.ts";
export { meanAbsoluteDifference, PerceptualDistance, SsimDistance, type ImageDistance } from "./distance.ts";
export type { BlendStats } from "./trajectory.ts";
export type { TransitionImages } from "./trees.ts";
export { anchorIndices, segmentTextFractions, UPSCALE_STAGE_DEFAULTS, type UpscaleStage } from "./upscale.ts";

/** A keyframe: a prompt, or a prompt with an image to start from (path or frame). */
export type KeyframeInput = string | { prompt?: string; image: Frame | string };

export interface BlendOptions {
  /** One seed per keyframe; default seed + i for keyframe i (distinct noise per keyframe). */
  seeds?: readonly number[] | null;
  seed?: number;
  negativePrompt?: string;
  steps?: number;
  scheduler?: SchedulerKind;
  /** Keyframe guidance g0; in-betweens get g(f) (spec §A3). */
  guidance?: number;
  guidanceMidDamper?: number;
  /** First injection ≈ d·steps: low = more inventive, high = close to an alpha blend. */
  depthStrength?: number;
  /** "adaptive" (default, spec §C) or "fixed" (the V1 block tree, spec §B). */
  tree?: "adaptive" | "fixed";
  /** Fixed tree preset (sets steps). */
  quality?: Quality | null;
  /** Fixed tree by hand: injection steps (first 0) and images per block (first 2). */
  branching?: { injection: readonly number[]; branches: readonly number[] } | null;
  /** Images per transition, keyframes included. */
  maxBranches?: number | null;
  /** Seconds of compute per transition (adaptive tree), measured against the first keyframe. */
  timeBudget?: number | null;
  parentalCrossfeed?: Crossfeed;
  branch1Crossfeed?: Crossfeed;
  width?: number;
  height?: number;
  fps?: number;
  /** Seconds per transition. */
  duration?: number;
  /** Share of the schedule run on image keyframes. */
  imageStrength?: number;
  /** Give a gap crossfade frames in proportion to its image distance (false: even split). */
  weightGaps?: boolean;
  /**
   * Inpainting (spec §F): a mask picture, white = regenerate, black = keep; the kept region of
   * every frame is the first keyframe's (inpaint.ts).
   */
  mask?: Frame | string | null;
  /** The ×4 second stage (spec §G; needs LoadOptions.upscaler); frames are then 4× the size. */
  upscale?: UpscaleStage | null;
  /** After each UNet step (progress). */
  onStep?: () => void;
  /** After each transition's tree, with its diffused images. */
  onTransition?: (index: number, images: TransitionImages) => void;
}

export const BLEND_DEFAULTS = {
  seed: 0,
  negativePrompt: "",
  steps: 12,
  scheduler: "ddim" as SchedulerKind,
  guidance: 4,
  guidanceMidDamper: 0.5,
  depthStrength: 0.5,
  tree: "adaptive" as "adaptive" | "fixed",
  parentalCrossfeed: { power: 0.3, range: 0.6, decay: 0.9 },
  branch1Crossfeed: { power: 0, range: 0, decay: 0 },
  width: 256,
  height: 256,
  fps: 24,
  duration: 3,
  imageStrength: 0.7,
  weightGaps: true,
  maxBranches: 12 as number | null,
};

type Resolved = typeof BLEND_DEFAULTS & BlendOptions;

export interface LoadOptions {
  model?: string;
  device?: string;
  log?: (line: string) => void;
  /** An ONNX image-distance model (LPIPS-style); default the built-in multi-scale SSIM. */
  perceptualModel?: string | null;
  /** Replaces the guided UNet (extension seam: inpainting or upscaler conditioning). */
  denoiser?: (sd: StableDiffusion, conditioning: Conditioning) => Denoise<Tensor>;
  /** The x4 upscaler for `upscale`: `tiny-upscaler` or an export folder. */
  upscaler?: string | null;
}

export class LatentBlending implements Disposable, BlendEngine {
  readonly stats: BlendStats = emptyStats();
  /** The inpainting state of the transition being made (inpaint.ts). */
  private mask: TransitionMask | undefined;

  private constructor(
    readonly sd: StableDiffusion,
    readonly distance: ImageDistance,
    private readonly makeDenoiser: ((sd: StableDiffusion, c: Conditioning) => Denoise<Tensor>) | undefined,
    readonly upscaler: Upscaler | undefined,
  ) {}

  static async load(options: LoadOptions = {}): Promise<LatentBlending> {
    const sd = await StableDiffusion.load(options.model ?? "tiny", { device: options.device, log: options.log });
    let distance: ImageDistance | undefined;
    try {
      distance = options.perceptualModel ? PerceptualDistance.load(options.perceptualModel, sd.backend) : new SsimDistance(sd.backend);
      const upscaler = options.upscaler ? await Upscaler.load(options.upscaler, sd.backend) : undefined;
      return new LatentBlending(sd, distance, options.denoiser, upscaler);
    } catch (e) {
      distance?.[Symbol.dispose]();
      sd.dispose();
      throw e;
    }
  }

  denoiser(conditioning: Conditioning): Denoise<Tensor> {
    if (this.makeDenoiser) return this.makeDenoiser(this.sd, conditioning);
    const inpaint = this.mask?.conditioning;
    return inpaint ? inpaintDenoiser(this.sd, conditioning, inpaint) : this.sd.guidedDenoiser(conditioning);
  }

  afterStep(x: Tensor, index: number): Tensor | undefined {
    return this.mask?.afterStep(x, index);
  }

  /** The output stream's size and rate for these options (4× with the upscale stage). */
  meta(options: BlendOptions = {}): StreamMeta {
    const o = { ...BLEND_DEFAULTS, ...defined(options) };
    const k = o.upscale ? 4 : 1;
    return { width: k * o.width, height: k * o.height, fps: { num: o.fps, den: 1 } };
  }

  /**
   * Movie frames through keyframes k0 → k1 → … (K ≥ 2), fps × duration per transition; each
   * shared keyframe is computed once and shown once.
   */
  async *transition(keyframes: readonly KeyframeInput[], options: BlendOptions = {}): AsyncGenerator<Frame> {
    const o: Resolved = { ...BLEND_DEFAULTS, ...defined(options) };
    const keys = keyframeSpecs(keyframes, o.seeds, o.seed);
    const fixed = o.tree === "fixed" || o.quality != null || o.branching != null;
    const steps = fixed && o.quality != null && o.branching == null ? QUALITY_PRESETS[o.quality].steps : o.steps;
    const fixedBranching = fixed ? this.fixedBranching(o, steps) : undefined;
    let adaptive: AdaptiveBranching | undefined;
    const run = { steps, scheduler: o.scheduler, width: o.width, height: o.height, imageStrength: o.imageStrength, onStep: o.onStep };
    const condition = (k: KeyframeSpec) => this.sd.condition(k.prompt, o.negativePrompt, o.guidance);

    const upscaler = o.upscale ? this.requireUpscaler() : undefined;
    this.mask = await TransitionMask.open(this.sd, o.mask, o.width, o.height);
    let leftCond = condition(keys[0]!);
    let left: TreeNode | undefined;
    try {
      left = await computeKeyframe(this, keys[0]!, leftCond, 0, run);
      this.mask?.firstKeyframe(left);
      if (!upscaler) yield left.image!;
      for (let i = 0; i + 1 < keys.length; i++) {
        const rightCond = condition(keys[i + 1]!);
        let right: TreeNode | undefined;
        try {
          const b1 = o.branch1Crossfeed.power > 0 ? branch1CrossfeedArray(steps, o.branch1Crossfeed) : undefined;
          right = await computeKeyframe(this, keys[i + 1]!, rightCond, 1, { ...run, mix: b1 && left.latents, crossfeed: b1 });
          const ctx: TreeContext = {
            engine: this,
            distance: this.distance,
            steps,
            scheduler: o.scheduler,
            left: leftCond,
            right: rightCond,
            guidanceMidDamper: o.guidanceMidDamper,
            seed: keys[i]!.seed,
            onStep: o.onStep,
          };
          let images: TransitionImages;
          if (fixedBranching) {
            images = fixedTree(ctx, left, right, fixedBranching);
          } else {
            adaptive ??= this.adaptiveBranching(o, steps);
            images = adaptiveTree(ctx, left, right, adaptive, o.parentalCrossfeed);
          }
          o.onTransition?.(i, images);
          if (upscaler) {
            const ctx = { upscaler, prompts: [keys[i]!.prompt, keys[i + 1]!.prompt] as [string, string], negativePrompt: o.negativePrompt, seed: o.seed, distance: this.distance, stats: this.stats, onStep: o.onStep };
            images = upscaleTransition(ctx, images, o.upscale!);
            // The first transition shows its first ×4 anchor; later ones start on the previous end.
            if (i === 0) yield images.images[0]!;
          }
          const total = framesPerTransition(o.fps, o.duration, images.images.length);
          const weights = o.weightGaps ? images.distances : images.distances.map(() => 1);
          const counts = allocateInbetweens(weights, total - images.images.length);
          yield* fillGaps(images.images, counts, true);
        } catch (e) {
          if (right) disposeLatents(right.latents);
          rightCond.context.dispose();
          throw e;
        }
        disposeLatents(left.latents);
        leftCond.context.dispose();
        // The right keyframe is the next transition's left one: computed once, shown once.
        [left, leftCond] = [{ ...right, fraction: 0 }, rightCond];
        this.mask?.nextTransition(left);
      }
    } finally {
      if (left) disposeLatents(left.latents);
      leftCond.context.dispose();
      this.mask?.[Symbol.dispose]();
      this.mask = undefined;
    }
  }

  private requireUpscaler(): Upscaler {
    if (!this.upscaler) throw new UsageError("the upscale stage needs an x4 upscaler model; load with { upscaler: \"tiny-upscaler\" } or a folder (--upscale-model)");
    return this.upscaler;
  }

  private fixedBranching(o: Resolved, steps: number): FixedBranching {
    if (o.branching != null) return setupBranching(steps, o.branching.branches, { injectionIdx: o.branching.injection });
    if (o.quality != null) return loadBranchingProfile(o.quality, o.depthStrength);
    return autosetupBranching(o.depthStrength, steps, o.maxBranches ?? 12);
  }

  /** Built once per run; a time budget uses dt measured on the first keyframe (spec §D5). */
  private adaptiveBranching(o: Resolved, steps: number): AdaptiveBranching {
    const s = this.stats;
    const dt = { unet: s.keyframeNs / 1e9 / Math.max(1, s.keyframeSteps), vae: s.decodeNs / 1e9 / Math.max(1, s.vaeDecodes) };
    return timeBasedBranching(o.depthStrength, steps, { maxBranches: o.maxBranches ?? undefined, timeBudget: o.timeBudget ?? undefined }, dt);
  }

  dispose(): void {
    this.distance[Symbol.dispose]();
    this.upscaler?.dispose();
    this.sd.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Keyframe i gets seeds[i], else seed + i (the reference gives every keyframe seed 0). */
export function keyframeSpecs(inputs: readonly KeyframeInput[], seeds: readonly number[] | null | undefined, seed: number): KeyframeSpec[] {
  if (inputs.length < 2) throw new UsageError(`a transition needs at least 2 keyframes (prompts or images), got ${inputs.length}`);
  if (seeds && seeds.length !== inputs.length) {
    throw new UsageError(`got ${seeds.length} seeds for ${inputs.length} keyframes; give one seed per prompt, or none (seed + i is used)`);
  }
  return inputs.map((k, i) => {
    const s = seeds?.[i] ?? seed + i;
    return typeof k === "string" ? { prompt: k, seed: s } : { prompt: k.prompt ?? "", image: k.image, seed: s };
  });
}

/** Drops undefined values so they do not override defaults. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
