/**
 * The high-resolution second stage (shared/specs/latent-blending.md §G): the low-res transition's
 * diffused images are upscaled ×4 by the SD x4 upscaler as a transition of their own.
 *
 * Anchors are the stage-1 images at round(linspace(0, N − 1, A)); each is a full upscaler run
 * conditioned on its noise-augmented picture and on the text at its stage-1 fraction u. Between
 * consecutive anchors j, j+1, in-betweens at local fractions f branch off the slerp of the two
 * anchors' latents at the injection step and run with
 *   image = slerp(aug(anchor j), aug(anchor j+1), f)   (cond and uncond rows alike)
 *   text  = lerp(E(u_j), E(u_{j+1}), f)                 (the reference paired (u_j, 1 − u_j): §G5)
 * Simplified from V1: one injection level per segment with evenly spaced fractions (no adaptive
 * splitting, no crossfeed), constant guidance, no ×64 edge padding (the tiny and real upscaler
 * UNets here take any multiple of 8), and every anchor shares one noise seed and one
 * augmentation seed so that neighbouring segments agree.
 */
import type { Frame } from "../io/frame.ts";
import { lerp, scale, slerp } from "../runtime/blend-ops.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { nanoseconds } from "../runtime/timing.ts";
import { Rng } from "../sd/random.ts";
import type { SchedulerKind } from "../sd/schedulers/index.ts";
import type { Conditioning } from "../sd/stable-diffusion.ts";
import type { Upscaler } from "../sd/upscaler.ts";
import type { ImageDistance } from "./distance.ts";
import { checkInjection, linspace, roundHalfEven } from "./schedules.ts";
import { disposeLatents, mixLatents, runTrajectory, type BlendStats, type Latents } from "./trajectory.ts";
import type { TransitionImages } from "./trees.ts";

export interface UpscaleStage {
  steps?: number;
  scheduler?: SchedulerKind;
  guidance?: number;
  /** Augmentation noise level of the low-res pictures (also the UNet's class label). */
  noiseLevel?: number;
  /** Stage-1 images used as anchors (V1: 6). */
  anchors?: number;
  /** Images per segment, both anchors included (V1: 5–6). */
  branches?: number;
  /** Injection step ≈ depth × steps (V1 hi-res: 0.65). */
  depthStrength?: number;
}

export const UPSCALE_STAGE_DEFAULTS = { steps: 12, scheduler: "ddim" as SchedulerKind, guidance: 4, noiseLevel: 20, anchors: 6, branches: 4, depthStrength: 0.65 };

/** Indices of the anchors among n images: round(linspace(0, n − 1, min(a, n))). */
export function anchorIndices(n: number, anchors: number): number[] {
  return [...new Set(linspace(0, n - 1, Math.max(2, Math.min(anchors, n))).map((x) => roundHalfEven(x)))];
}

/** Text fractions of each segment between consecutive anchors: (u_j, u_{j+1}). */
export function segmentTextFractions(anchorFractions: readonly number[]): [number, number][] {
  return anchorFractions.slice(1).map((u, j) => [anchorFractions[j]!, u]);
}

export interface UpscaleContext {
  upscaler: Upscaler;
  /** Prompts of the transition's two keyframes (the upscaler has its own text encoder). */
  prompts: [string, string];
  negativePrompt: string;
  seed: number;
  distance: ImageDistance;
  stats: BlendStats;
  onStep?: () => void;
}

/** Stage 2 of one transition: the ×4 images in order of fraction, with their distances. */
export function upscaleTransition(ctx: UpscaleContext, stage1: TransitionImages, options: UpscaleStage = {}): TransitionImages {
  const o = { ...UPSCALE_STAGE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v != null)) };
  const up = ctx.upscaler;
  const injection = roundHalfEven(o.steps * o.depthStrength);
  checkInjection(injection, o.steps);
  const picks = anchorIndices(stage1.images.length, o.anchors);
  const u = picks.map((i) => stage1.fractions[i]!);
  const ends = ctx.prompts.map((p) => up.condition(p, ctx.negativePrompt, o.guidance)) as [Conditioning, Conditioning];
  const text = (f: number): Conditioning => ({ context: lerp(ends[0].context, ends[1].context, f), guidance: o.guidance });

  const run = (c: Conditioning, image: Tensor, start: Tensor, startIndex: number): Latents => {
    const engine = { stats: ctx.stats, denoiser: (cond: Conditioning) => up.denoiser(cond, image, o.noiseLevel) };
    return runTrajectory(engine, {
      conditioning: c,
      start,
      startIndex,
      scheduler: up.scheduler(o.scheduler, o.steps),
      noise: new Rng(ctx.seed).fork(1),
      kind: startIndex === 0 ? "keyframe" : "inbetween",
      onStep: ctx.onStep,
    });
  };
  const decode = (latents: Latents): Frame => {
    const t0 = nanoseconds();
    const frame = up.decode(latents.at(-1)!);
    ctx.stats.decodeNs += nanoseconds() - t0;
    ctx.stats.vaeDecodes++;
    return frame;
  };

  const images: Frame[] = [];
  const fractions: number[] = [];
  type Anchor = { latents: Latents; image: Tensor; text: Conditioning };
  const anchor = (j: number): Anchor => {
    const frame = stage1.images[picks[j]!]!;
    const image = up.augment(frame, o.noiseLevel, ctx.seed);
    const t = text(u[j]!);
    using noise = up.noise(ctx.seed, frame.width, frame.height);
    const scheduler = up.scheduler(o.scheduler, o.steps);
    using start = scale(noise, scheduler.initNoiseSigma);
    const latents = run(t, image, start, 0);
    ctx.stats.keyframes++;
    return { latents, image, text: t };
  };
  const free = (a: Anchor) => {
    disposeLatents(a.latents);
    a.image.dispose();
    a.text.context.dispose();
  };

  let left: Anchor | undefined;
  let right: Anchor | undefined;
  try {
    left = anchor(0);
    images.push(decode(left.latents));
    fractions.push(u[0]!);
    for (const [j, [u0, u1]] of segmentTextFractions(u).entries()) {
      right = anchor(j + 1);
      for (const f of linspace(0, 1, o.branches).slice(1, -1)) {
        const mix = mixLatents(left.latents, right.latents, f, injection - 1, injection);
        using image = slerp(left.image, right.image, f);
        using context = lerp(left.text.context, right.text.context, f);
        const latents = run({ context, guidance: o.guidance }, image, mix[injection - 1]!, injection);
        disposeLatents(mix);
        images.push(decode(latents));
        disposeLatents(latents);
        fractions.push(u0 + f * (u1 - u0));
        ctx.stats.inbetweens++;
      }
      images.push(decode(right.latents));
      fractions.push(u1);
      free(left);
      [left, right] = [right, undefined];
    }
  } finally {
    if (left) free(left);
    if (right) free(right);
    for (const e of ends) e.context.dispose();
  }
  const distances = images.slice(1).map((img, j) => ctx.distance.distance(images[j]!, img));
  return { images, fractions, distances };
}
