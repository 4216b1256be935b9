/**
 * The one primitive every tree is made of (spec §A4): run the schedule from `startIndex` on
 * `start`, optionally pulling the latent toward a mix trajectory M at each step's input
 * (x ← slerp(x, M[i−1], c[i])), and keep the latent after every step.
 *
 * The loop is the sampler's (pipelines/sd/sampler.ts) op for op, so a keyframe run here is
 * byte-identical to txt2img with the same seed; it is written out because trees need runs that
 * stop early (the fixed tree's blocks) and a trajectory kept per step.
 */
import type { Frame } from "../io/frame.ts";
import { slerp } from "../runtime/blend-ops.ts";
import { Tensor } from "../runtime/tensor.ts";
import { nanoseconds } from "../runtime/timing.ts";
import { Rng } from "../sd/random.ts";
import type { Denoise } from "../sd/sampler.ts";
import type { Scheduler } from "../sd/schedulers/index.ts";
import type { Conditioning, StableDiffusion } from "../sd/stable-diffusion.ts";
import { tensorOps } from "../sd/tensor-ops.ts";

/** Latent after step i at index i; undefined where the run did not go. */
export type Latents = (Tensor | undefined)[];

/** One image of the transition: a keyframe (injection 0) or an in-between. */
export interface TreeNode {
  /** Position in the transition, 0 = first keyframe, 1 = second. */
  fraction: number;
  /** Step the node branched off its parents (0 for keyframes). */
  injection: number;
  latents: Latents;
  /** The decoded last latent (absent for nodes of a fixed tree's inner blocks). */
  image?: Frame;
}

/**
 * What the trees need from a model. `denoiser` is the seam for models that condition differently
 * (the 9-channel inpainting UNet adds a mask and masked-image latents; the x4 upscaler a low-res
 * image): they supply their own Denoise for a Conditioning.
 */
export interface BlendEngine {
  readonly sd: StableDiffusion;
  denoiser(conditioning: Conditioning): Denoise<Tensor>;
  readonly stats: BlendStats;
  /** After each step: a replacement latent (inpainting re-pastes its kept region), or nothing. */
  afterStep?(x: Tensor, index: number): Tensor | undefined;
}

export interface BlendStats {
  /** Denoiser calls (one per step, whatever the guidance batch). */
  unetCalls: number;
  vaeDecodes: number;
  /** Nanoseconds inside runs of keyframes / in-betweens, and inside VAE decodes. */
  keyframeNs: number;
  keyframeSteps: number;
  inbetweenNs: number;
  inbetweenSteps: number;
  decodeNs: number;
  keyframes: number;
  inbetweens: number;
}

export function emptyStats(): BlendStats {
  return { unetCalls: 0, vaeDecodes: 0, keyframeNs: 0, keyframeSteps: 0, inbetweenNs: 0, inbetweenSteps: 0, decodeNs: 0, keyframes: 0, inbetweens: 0 };
}

export interface RunOptions {
  conditioning: Conditioning;
  /** Latent entering step `startIndex`; not disposed. */
  start: Tensor;
  startIndex: number;
  /** One past the last step to run; default: the whole schedule. */
  endIndex?: number;
  /** A fresh scheduler (multistep history is per run). */
  scheduler: Scheduler;
  /** Step noise for ancestral samplers and LCM. */
  noise: Rng;
  /** Crossfeed: mix trajectory M and weights c (c[i] applies at step i's input, with M[i − 1]). */
  mix?: Latents;
  crossfeed?: readonly number[];
  /** Whether to book the run as a keyframe or an in-between in the stats. */
  kind: "keyframe" | "inbetween";
  /** After each step (progress). */
  onStep?: () => void;
}

export function runTrajectory(engine: Pick<BlendEngine, "denoiser" | "stats" | "afterStep">, o: RunOptions): Latents {
  const steps = o.scheduler.timesteps;
  const end = o.endIndex ?? steps.length;
  const denoise = engine.denoiser(o.conditioning);
  const shape = o.start.shape;
  const noise = () => Tensor.from(o.start.backend, "f32", shape, o.noise.normal(new Float32Array(o.start.size)));
  const out: Latents = new Array(steps.length).fill(undefined);
  const t0 = nanoseconds();
  let x = o.start;
  for (let i = o.startIndex; i < end; i++) {
    const c = o.crossfeed?.[i] ?? 0;
    const target = o.mix?.[i - 1];
    // At the injection step the start already is the mix, so crossfeed begins one step later.
    using fed = i > o.startIndex && c > 0 && target ? slerp(x, target, c) : undefined;
    const sample = fed ?? x;
    const input = o.scheduler.scaleModelInput(tensorOps, sample, i);
    const prediction = denoise(input, steps[i]!, i);
    input.dispose();
    engine.stats.unetCalls++;
    x = o.scheduler.step(tensorOps, prediction, i, sample, noise);
    prediction.dispose();
    const replaced = engine.afterStep?.(x, i);
    if (replaced) {
      x.dispose();
      x = replaced;
    }
    out[i] = x;
    o.onStep?.();
  }
  const ns = nanoseconds() - t0;
  if (o.kind === "keyframe") {
    engine.stats.keyframeNs += ns;
    engine.stats.keyframeSteps += end - o.startIndex;
  } else {
    engine.stats.inbetweenNs += ns;
    engine.stats.inbetweenSteps += end - o.startIndex;
  }
  return out;
}

/** The VAE decode of a node's last latent, booked in the stats. */
export function decodeLast(engine: BlendEngine, latents: Latents): Frame {
  const last = latents.at(-1);
  if (!last) throw new Error("cannot decode a trajectory that did not reach the last step");
  const t0 = nanoseconds();
  const frame = engine.sd.vae.decode(last);
  engine.stats.decodeNs += nanoseconds() - t0;
  engine.stats.vaeDecodes++;
  return frame;
}

/** M[i] = slerp(a[i], b[i], t) for i in [from, to) where both exist (t 0 or 1: copies). */
export function mixLatents(a: Latents, b: Latents, t: number, from: number, to: number): Latents {
  const out: Latents = new Array(a.length).fill(undefined);
  for (let i = Math.max(0, from); i < Math.min(to, a.length); i++) {
    const [p, q] = [a[i], b[i]];
    if (!p || !q) continue;
    out[i] = t === 0 ? p.to(p.backend) : t === 1 ? q.to(q.backend) : slerp(p, q, t);
  }
  return out;
}

export function disposeLatents(latents: Latents): void {
  for (const t of latents) t?.dispose();
  latents.fill(undefined);
}

/** Step noise of an in-between: its own stream per fraction, so tree order never shifts it. */
export function inbetweenNoise(seed: number, fraction: number): Rng {
  return new Rng(seed).fork(2 + Math.round(fraction * 2 ** 32));
}
