/**
 * Keyframes: full diffusion runs whose trajectories every in-between of a transition branches
 * from. A keyframe is a prompt (txt2img: noise × initNoiseSigma, byte-identical to
 * recipes/txt2img.ts) or an image (issue #19): the image is VAE-encoded and noised img2img-style,
 * and its trajectory before the img2img start is the forward-noised image itself, so children may
 * branch off at any step.
 */
import { UsageError } from "../errors.ts";
import type { Frame } from "../io/frame.ts";
import { openFrameSource } from "../io/frame-source.ts";
import { Rng } from "../sd/random.ts";
import type { SchedulerKind } from "../sd/schedulers/index.ts";
import type { Conditioning } from "../sd/stable-diffusion.ts";
import { tensorOps } from "../sd/tensor-ops.ts";
import { decodeLast, runTrajectory, type BlendEngine, type Latents, type TreeNode } from "./trajectory.ts";

/** One end of a transition: a prompt, and optionally an image to start from. */
export interface KeyframeSpec {
  prompt: string;
  /** An image keyframe: the frame, or a path (.png, .jpg, … anything ffmpeg reads). */
  image?: Frame | string;
  seed: number;
}

export interface KeyframeRun {
  steps: number;
  scheduler: SchedulerKind;
  width: number;
  height: number;
  /** Share of the schedule run on an image keyframe (img2img strength). */
  imageStrength: number;
  /** Keyframe 2's crossfeed toward keyframe 1 (spec §C1), when on. */
  mix?: Latents;
  crossfeed?: readonly number[];
  onStep?: () => void;
}

/** A keyframe node: every step's latent, and its decoded image. */
export async function computeKeyframe(
  engine: BlendEngine,
  spec: KeyframeSpec,
  conditioning: Conditioning,
  fraction: number,
  run: KeyframeRun,
): Promise<TreeNode> {
  const sd = engine.sd;
  const scheduler = sd.scheduler(run.scheduler, run.steps);
  using noise = sd.noise(spec.seed, run.width, run.height);
  const stepNoise = new Rng(spec.seed).fork(1);
  let latents: Latents;
  if (spec.image === undefined) {
    using start = tensorOps.combine([[scheduler.initNoiseSigma, noise]]);
    latents = runTrajectory(engine, { conditioning, start, startIndex: 0, scheduler, noise: stepNoise, mix: run.mix, crossfeed: run.crossfeed, kind: "keyframe", onStep: run.onStep });
  } else {
    const frame = await loadKeyImage(spec.image, run.width, run.height);
    using clean = sd.vae.encode(frame, sd.backend);
    const n = scheduler.timesteps.length;
    const first = n - Math.max(1, Math.min(n, Math.round(n * run.imageStrength)));
    // M[i] (the latent after step i) is the image noised to the level step i + 1 starts from.
    const before: Latents = new Array(n).fill(undefined);
    for (let i = 0; i < first; i++) before[i] = scheduler.addNoise(tensorOps, clean, noise, scheduler.timesteps[i + 1]!);
    using start = scheduler.addNoise(tensorOps, clean, noise, scheduler.timesteps[first]!);
    const after = runTrajectory(engine, { conditioning, start, startIndex: first, scheduler, noise: stepNoise, kind: "keyframe", onStep: run.onStep });
    latents = before.map((t, i) => t ?? after[i]);
  }
  engine.stats.keyframes++;
  return { fraction, injection: 0, latents, image: decodeLast(engine, latents) };
}

/** Reads an image keyframe and fits it to the output size (bilinear) when it differs. */
export async function loadKeyImage(image: Frame | string, width: number, height: number): Promise<Frame> {
  let frame: Frame | undefined;
  if (typeof image === "string") {
    const source = await openFrameSource(image);
    for await (const f of source.frames) {
      frame = f;
      break;
    }
    if (!frame) throw new UsageError(`image keyframe ${image} holds no frame`);
  } else {
    frame = image;
  }
  return frame.width === width && frame.height === height ? frame : resizeBilinear(frame, width, height);
}

/** rgb24 resize, pixel centres aligned (as most image libraries do). */
export function resizeBilinear(src: Frame, width: number, height: number): Frame {
  const out = new Uint8Array(width * height * 3);
  const sx = src.width / width, sy = src.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(src.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(src.height - 1, y0 + 1), wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(src.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(src.width - 1, x0 + 1), wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const at = (xx: number, yy: number) => src.data[(yy * src.width + xx) * 3 + c]!;
        const top = at(x0, y0) + wx * (at(x1, y0) - at(x0, y0));
        const bottom = at(x0, y1) + wx * (at(x1, y1) - at(x0, y1));
        out[(y * width + x) * 3 + c] = Math.round(top + wy * (bottom - top));
      }
    }
  }
  return { width, height, data: out };
}
