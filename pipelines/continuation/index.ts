/**
 * ContinuitySeq: video of any length, clip after clip, each clip conditioned on the clean latents
 * of the last k frames before it (k drawn in [min, max] conditioning frames), never noised.
 * Ref: shared/specs/continuity-seq.md; docs/continuation.md for the model layout.
 *
 *   using job = await ContinuitySeq.load({ model: "tiny-continuation" });
 *   const start = [await ContinuitySeq.startImage({ prompt: "a boat", width: 128, height: 96 })];
 *   await using out = openFrameSink("boat.mp4", job.meta(start[0]!, 12));
 *   for (const { frame } of job.run({ prompt: "a boat at sea", times: 3 }, start)) await out.write(frame);
 *
 * Memory is one clip's latents plus its conditioning, whatever `times` is: frames are decoded one at
 * a time as they are yielded, and only the k carried latents outlive a clip.
 */
import { UsageError } from "../errors.ts";
import type { Frame, StreamMeta } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import { axpby } from "../runtime/blend-ops.ts";
import { openDevice } from "../runtime/device.ts";
import { Tensor } from "../runtime/tensor.ts";
import { readModelFolder, type ModelFolder } from "../sd/model-folder.ts";
import { Rng } from "../sd/random.ts";
import { sample } from "../sd/sampler.ts";
import { createScheduler } from "../sd/schedulers/index.ts";
import { StableDiffusion } from "../sd/stable-diffusion.ts";
import { tensorOps } from "../sd/tensor-ops.ts";
import { TextEncoder } from "../sd/text-encoder.ts";
import { resolveModelDir } from "../sd/tiny/index.ts";
import { Vae } from "../sd/vae.ts";
import { clipFrame, clipFrames, writeClipFrame } from "../sd/video-frames.ts";
import { contrast } from "../sd/enhance.ts";
import { clahe } from "./clahe.ts";
import { ClipNormalizer } from "./normalize.ts";
import { ContinuationUnet } from "./unet.ts";
import { FrameDifferences } from "./joins.ts";
import { loadClipCheckpoint, saveClipCheckpoint } from "./checkpoint.ts";

export { clahe, CLAHE_CLIP_LIMIT } from "./clahe.ts";
export { ClipNormalizer } from "./normalize.ts";
export { ContinuationUnet } from "./unet.ts";
export { FrameDifferences, meanAbsDifference, type JoinReport } from "./joins.ts";
export { CheckpointError, checkpointClip, loadClipCheckpoint, saveClipCheckpoint, type ClipCheckpoint } from "./checkpoint.ts";

/** The one home of these numbers: the recipe's schema and configs/continue.yaml take them from here. */
export const CONTINUE_DEFAULTS = {
  negativePrompt: "",
  seed: 0,
  // the reference's 22 is for the 1.7B model; the tiny one saturates far below that
  guidance: 7.5,
  // the reference's 50 DDIM steps and 16 frames at 576x320; a few suit the tiny model on a CPU
  steps: 10,
  frames: 8,
  times: 3,
  /** k = randint(min, max), inclusive (the reference's CLI: 4 and 4). */
  minConditioningFrames: 4,
  maxConditioningFrames: 4,
  /** Size of the generated start image (an input image or video sets its own). */
  width: 128,
  height: 96,
  imageModel: "tiny",
  imageSteps: 8,
  imageGuidance: 7.5,
  fps: 12,
  /** Pillow ImageEnhance.Contrast factor on every output frame (1 leaves it). */
  contrast: 1,
  /** CLAHE clip limit on every channel, one tile (the reference's 1.2); null: off. */
  clahe: null as number | null,
  /** Contrast normalisation across clips, over the clips so far (normalize.ts); off by default. */
  normalize: false,
  model: "tiny-continuation",
};

export interface ContinueOptions {
  prompt: string;
  /** One prompt per clip (the last repeats); overrides `prompt`. */
  prompts?: readonly string[] | null;
  negativePrompt?: string;
  seed?: number;
  guidance?: number;
  steps?: number;
  /** New frames per clip. */
  frames?: number;
  /** Clips. */
  times?: number;
  minConditioningFrames?: number;
  maxConditioningFrames?: number;
  contrast?: number;
  clahe?: number | null;
  normalize?: boolean;
  /** Save the carried latents after every clip here (null: never). */
  checkpoint?: string | null;
  /** Start after the clips the checkpoint holds. */
  resume?: boolean;
  /** After each clip: its index and the k frames it hands on. */
  onClip?: (info: { clip: number; carried: number }) => void;
}

/** One output frame and where it sits. */
export interface ContinuedFrame {
  readonly frame: Frame;
  readonly clip: number;
  /** Index within the clip. */
  readonly index: number;
}

/** Checks the clip settings against each other; a UsageError names the key before anything loads. */
export function checkContinuePlan(options: Partial<ContinueOptions>, fixedConditioningFrames: number | null = null): void {
  const o = { ...CONTINUE_DEFAULTS, ...options };
  const whole = (what: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new UsageError(`${what} ${v} must be a whole number ≥ ${min}`);
  };
  whole("frames", o.frames, 1);
  whole("times", o.times, 1);
  whole("min_conditioning_frames", o.minConditioningFrames, 0);
  whole("max_conditioning_frames", o.maxConditioningFrames, 0);
  if (o.minConditioningFrames > o.maxConditioningFrames) {
    throw new UsageError(`min_conditioning_frames ${o.minConditioningFrames} is more than max_conditioning_frames ${o.maxConditioningFrames}`);
  }
  if (o.maxConditioningFrames > o.frames) {
    throw new UsageError(
      `max_conditioning_frames ${o.maxConditioningFrames} is longer than allowed: a clip has only ${o.frames} frames to carry`,
      "lower --max-conditioning-frames or raise --frames",
    );
  }
  if (fixedConditioningFrames !== null && (o.minConditioningFrames !== fixedConditioningFrames || o.maxConditioningFrames !== fixedConditioningFrames)) {
    throw new UsageError(`this UNet's conditioning axis is fixed at ${fixedConditioningFrames} frames: set min and max conditioning frames to ${fixedConditioningFrames}`);
  }
}

/** The carried count of every clip boundary, from the seed alone (so a resumed run draws the same). */
export function conditioningCounts(seed: number, min: number, max: number, clips: number): number[] {
  const rng = new Rng(seed).fork(0x6b);
  return Array.from({ length: clips }, () => min + Math.floor(rng.uniform() * (max - min + 1)));
}

export class ContinuitySeq implements Disposable {
  /** Consecutive-frame differences at joins and inside clips, for the last run. */
  differences = new FrameDifferences();
  stats = { clips: 0, unetCalls: 0, startedAt: 0, carried: [] as number[] };

  private constructor(
    readonly folder: ModelFolder,
    readonly backend: Backend,
    readonly textEncoder: TextEncoder,
    readonly unet: ContinuationUnet,
    readonly vae: Vae,
  ) {}

  /** `model` is `tiny-continuation` (built on first use) or a ContinuitySeq export folder. */
  static async load(options: { model?: string; device?: string; log?: (line: string) => void } = {}): Promise<ContinuitySeq> {
    const { backend, reason } = openDevice(options.device ?? "cpu");
    if (options.device === "auto") options.log?.(reason);
    const folder = readModelFolder(await resolveModelDir(options.model ?? CONTINUE_DEFAULTS.model));
    const unet = ContinuationUnet.load(folder.unet, backend);
    const loaded: Disposable[] = [unet];
    try {
      if (!folder.vaeEncoder) throw new UsageError(`${folder.dir} has no vae_encoder/model.onnx: conditioning frames are encoded with it`);
      const textEncoder = await TextEncoder.load(folder.textEncoder, folder.tokenizer, backend);
      loaded.push(textEncoder);
      // a scheduler config DDIM cannot read fails here, before any clip
      createScheduler(folder.schedulerConfig, "ddim");
      const vae = Vae.load(folder.vaeDecoder, folder.vaeEncoder, folder.vaeScale, backend);
      return new ContinuitySeq(folder, backend, textEncoder, unet, vae);
    } catch (e) {
      for (const m of loaded) m[Symbol.dispose]();
      throw e;
    }
  }

  /** The start picture when there is no input: txt2img with a 2-D model (spec step 1, kept in [-1, 1]). */
  static async startImage(o: { prompt: string; negativePrompt?: string; width: number; height: number; seed?: number; model?: string; steps?: number; guidance?: number; device?: string }): Promise<Frame> {
    using sd = await StableDiffusion.load(o.model ?? CONTINUE_DEFAULTS.imageModel, { device: o.device });
    return sd.generate({
      prompt: o.prompt, negativePrompt: o.negativePrompt ?? "", width: o.width, height: o.height, seed: o.seed ?? 0,
      steps: o.steps ?? CONTINUE_DEFAULTS.imageSteps, guidance: o.guidance ?? CONTINUE_DEFAULTS.imageGuidance,
    });
  }

  meta(like: { width: number; height: number }, fps: number): StreamMeta {
    return { width: like.width, height: like.height, fps: { num: fps, den: 1 } };
  }

  /**
   * `times` clips of `frames` new frames each, continuing `start` (the last frames of a video, or
   * one image; all the same size). Clip 0 is conditioned on the start's latents (at most
   * max_conditioning_frames of them, the latest), clip c + 1 on the last k latents of clip c.
   */
  *run(options: ContinueOptions, start: readonly Frame[]): Generator<ContinuedFrame, void, undefined> {
    const o = { ...CONTINUE_DEFAULTS, ...options };
    checkContinuePlan(o, this.unet.fixedConditioningFrames);
    if (o.resume && !o.checkpoint) throw new UsageError("--resume needs a checkpoint file (--checkpoint PATH)");
    const first = checkStart(start);
    const [h, w] = [first.height / 8, first.width / 8];
    const counts = conditioningCounts(o.seed, o.minConditioningFrames, o.maxConditioningFrames, o.times);
    const prompts = o.prompts?.length ? o.prompts : [o.prompt];
    const settings = { model: this.folder.dir, device: this.backend.device, prompts, negativePrompt: o.negativePrompt, seed: o.seed, guidance: o.guidance, steps: o.steps, frames: o.frames, times: o.times, min: o.minConditioningFrames, max: o.maxConditioningFrames, normalize: o.normalize, width: first.width, height: first.height };
    const resumed = o.resume ? loadClipCheckpoint(o.checkpoint!, settings) : undefined;
    if (resumed && resumed.clip >= o.times) throw new UsageError(`--resume: the checkpoint already holds all ${o.times} clips`);
    let cond = resumed ? Tensor.from(this.backend, "f32", resumed.shape, resumed.latents) : this.encodeFrames(start.slice(Math.max(0, start.length - Math.max(1, o.maxConditioningFrames))));
    using text = this.textEncoder.encode([o.negativePrompt, ...prompts]);
    this.differences = new FrameDifferences();
    this.stats = { clips: 0, unetCalls: 0, startedAt: resumed?.clip ?? 0, carried: [] };
    const normalizer = o.normalize ? new ClipNormalizer(resumed?.stats ?? undefined) : null;
    let previous: Frame | undefined = resumed ? undefined : start[start.length - 1];
    try {
      for (let c = resumed?.clip ?? 0; c < o.times; c++) {
        using clip = this.clipLatents(o, cond, text, Math.min(c, prompts.length - 1) + 1, c, h, w);
        const k = Math.min(counts[c]!, o.frames);
        const carried = clipFrames(clip, 0, o.frames - k, o.frames);
        cond.dispose();
        cond = carried;
        const decode = (j: number) => {
          using latent = clipFrame(clip, 0, j);
          return this.vae.decode(latent);
        };
        // normalising needs the clip's statistics first, so then the clip is decoded whole
        const whole = normalizer ? normalizer.normalize(Array.from({ length: o.frames }, (_, j) => decode(j))) : null;
        for (let j = 0; j < o.frames; j++) {
          const decoded = whole ? whole[j]! : decode(j);
          const frame = contrast(o.clahe === null ? decoded : clahe(this.backend, decoded, o.clahe), o.contrast);
          if (previous) this.differences.add(previous, frame, j === 0 ? (c === 0 ? "start" : "join") : "inside");
          previous = frame;
          const last = j === o.frames - 1;
          try {
            yield { frame, clip: c, index: j };
          } finally {
            // Once the clip's last frame is taken (even if the taker stops there), the state after
            // the clip is what a resumed run needs; a stop earlier in the clip redoes the clip.
            if (last) {
              this.stats.clips++;
              this.stats.carried.push(k);
              o.onClip?.({ clip: c, carried: k });
              if (o.checkpoint && c + 1 < o.times) saveClipCheckpoint(o.checkpoint, settings, {
                  clip: c + 1, shape: cond.shape, latents: cond.readF32() as Float32Array,
                  stats: normalizer && { means: normalizer.means, stds: normalizer.stds },
                });
            }
          }
        }
      }
    } finally {
      cond.dispose();
    }
  }

  /** Clean latents [1, 4, n, h, w] of `frames` (VAE mean), the conditioning of a first clip. */
  encodeFrames(frames: readonly Frame[]): Tensor {
    const first = frames[0]!;
    const [h, w] = [first.height / 8, first.width / 8];
    const out = Tensor.uninitialized(this.backend, "f32", [1, 4, frames.length, h, w]);
    frames.forEach((f, j) => {
      using latent = this.vae.encode(f, this.backend);
      writeClipFrame(out, 0, j, latent);
    });
    return out;
  }

  /**
   * One clip (spec step 3): DDIM from seeded noise, every step one UNet call on [uncond; cond]
   * with the same clean conditioning in both halves. `promptRow` indexes `text` (row 0 the negative).
   */
  clipLatents(o: typeof CONTINUE_DEFAULTS & ContinueOptions, cond: Tensor, text: Tensor, promptRow: number, clip: number, h: number, w: number): Tensor {
    const backend = this.backend;
    const [ch = 0, cw = 0] = cond.shape.slice(3);
    if (ch !== h || cw !== w) throw new UsageError(`conditioning latents are ${cw}x${ch}, this video's ${w}x${h}: conditioning frames must be the video's size`);
    const scheduler = createScheduler(this.folder.schedulerConfig, "ddim");
    scheduler.setTimesteps(o.steps);
    const shape = [1, 4, o.frames, h, w];
    const count = shape.reduce((a, b) => a * b);
    // Each clip's noise has its own stream, so clip c is the same whether or not the run resumed.
    using noise = Tensor.from(backend, "f32", shape, new Rng(o.seed).fork(clip + 1).normal(new Float32Array(count)));
    using start = tensorOps.combine([[scheduler.initNoiseSigma, noise]]);
    const guided = o.guidance > 1;
    const rows = guided ? 2 : 1;
    using context = Tensor.uninitialized(backend, "f32", [rows, ...text.shape.slice(1)]);
    const rowBytes = text.byteLength / text.shape[0]!;
    if (guided) backend.copy(context.storage, 0, text.storage, text.byteOffset, rowBytes);
    backend.copy(context.storage, (rows - 1) * rowBytes, text.storage, text.byteOffset + promptRow * rowBytes, rowBytes);
    using conds = repeatRows(cond, rows);
    return sample({
      scheduler,
      ops: tensorOps,
      latents: start,
      denoise: (x, t) => {
        this.stats.unetCalls++;
        if (!guided) return this.unet.predict(x, conds, t, context);
        using batch = repeatRows(x, 2);
        using eps = this.unet.predict(batch, conds, t, context);
        using uncond = eps.slice(0, 1);
        using condEps = eps.slice(1, 2);
        return axpby(1 - o.guidance, uncond, o.guidance, condEps);
      },
    });
  }

  dispose(): void {
    this.textEncoder.dispose();
    this.unet.dispose();
    this.vae.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The start frames all of one size, each side a multiple of 8 (the VAE's); returns the first. */
export function checkStart(start: readonly Frame[]): Frame {
  const first = start[0];
  if (!first) throw new UsageError("nothing to continue: the start has no frames");
  for (const f of start) {
    if (f.width !== first.width || f.height !== first.height) throw new UsageError(`start frames differ in size: ${f.width}x${f.height} and ${first.width}x${first.height}`);
  }
  if (first.width % 8 || first.height % 8) {
    throw new UsageError(`the start is ${first.width}x${first.height}; both sides must be multiples of 8`, "crop or resize the input to multiples of 8");
  }
  return first;
}

/** Keeps the last `n` frames of a stream (memory: n frames, however long the video). */
export async function lastFrames(frames: AsyncIterable<Frame>, n: number): Promise<Frame[]> {
  const kept: Frame[] = [];
  for await (const f of frames) {
    kept.push(f);
    if (kept.length > n) kept.shift();
  }
  return kept;
}

/** `x` [1, …] repeated into [rows, …]. */
function repeatRows(x: Tensor, rows: number): Tensor {
  return Tensor.concat(Array<Tensor>(rows).fill(x));
}

