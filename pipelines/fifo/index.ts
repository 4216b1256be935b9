/**
 * FIFO-Diffusion: video of any length from a fixed-window video UNet, in constant memory. A queue
 * of f·n latents at increasing noise levels is denoised diagonally, one DDIM step per frame per
 * iteration; the clean head leaves as a frame, fresh noise joins at the tail. With the YCmove
 * fork's tricks: Q-caches, the first latent as image embedding, uniform latents, and i2v.
 * Ref: shared/specs/fifo-diffusion.md; docs/video-models.md for the models.
 *
 *   using fifo = await FifoDiffusion.load({ model: "tiny-video" });
 *   await using out = openFrameSink("long.mp4", fifo.meta(options));
 *   for await (const frame of fifo.run({ prompt: "a boat on a calm lake", frames: 1000 })) await out.write(frame);
 */
import { createHash } from "node:crypto";
import { UsageError } from "../errors.ts";
import type { Frame, StreamMeta } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import { axpby, axpbypcz, lerp } from "../runtime/blend-ops.ts";
import { Tensor } from "../runtime/tensor.ts";
import { checkUnetSize } from "../sd/unet-size.ts";
import { VideoDiffusion } from "../sd/video-diffusion.ts";
import { clipFrame, writeClipFrame } from "../sd/video-frames.ts";
import { loadCheckpoint, type QueueState, saveCheckpoint } from "./checkpoint.ts";
import { FifoNoise } from "./noise.ts";
import { PromptSchedule } from "./prompt-schedule.ts";
import { QCache, type QCacheAttn } from "./q-cache.ts";
import { type FifoSchedule, fifoSchedule, initFrame, outputIndexAt, stepCoefficients, type Window } from "./schedule.ts";

export { CheckpointError, checkpointProgress, loadCheckpoint, saveCheckpoint, type QueueState } from "./checkpoint.ts";
export { FifoNoise } from "./noise.ts";
export { PromptSchedule } from "./prompt-schedule.ts";
export { pairUp, Q_CACHE_ATTNS, QCache, type QCacheAttn } from "./q-cache.ts";
export * from "./schedule.ts";

/** The one home of these numbers: the recipe's schema and configs/fifo.yaml take them from here. */
export const FIFO_DEFAULTS = {
  negativePrompt: "",
  seed: 0,
  guidance: 7.5,
  /** DDIM η (the reference's default 1: stochastic). */
  eta: 1,
  // the reference runs f = 16, n = 4 on VideoCrafter 2; a quarter of that suits the tiny model
  videoLength: 8,
  partitions: 2,
  lookahead: true,
  frames: 48,
  // VideoCrafter's 320×512 aspect, at a size the tiny model makes quickly on a CPU
  width: 256,
  height: 160,
  /** The fps the UNet is conditioned on (VideoCrafter 2: 8) and the output's frame rate (the reference's 10). */
  fps: 8,
  outputFps: 10,
  qCache: null as number | null,
  qCacheAttn: "attn1" as QCacheAttn,
  seedFrame: false,
  uniformLatents: false,
  promptBlend: 8,
  checkpointEvery: 16,
  windowBatch: null as number | null,
};

export interface FifoOptions {
  prompt: string;
  /** A prompt schedule instead of `prompt`: prompts[j] for promptFrames[j] frames, the last to the end. */
  prompts?: readonly string[] | null;
  promptFrames?: readonly number[];
  /** Frames over which one prompt blends into the next. */
  promptBlend?: number;
  negativePrompt?: string;
  seed?: number;
  guidance?: number;
  eta?: number;
  videoLength?: number;
  partitions?: number;
  lookahead?: boolean;
  /** Output frames N (warm-up frames are not counted). */
  frames?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Q-cache weight w (null: off) and which temporal attention it caches. */
  qCache?: number | null;
  qCacheAttn?: QCacheAttn;
  /** Embed the first finished latent as an image and condition the whole run on it (t2v_seed). */
  seedFrame?: boolean;
  /** Initialise the queue with each base frame n times (unilatent) instead of frame 0 repeated. */
  uniformLatents?: boolean;
  /** Image-to-video: condition every window (and the base clip) on this picture's embedding. */
  image?: Frame | null;
  /** Windows per UNet call (null: all of an iteration's windows in one batched call). */
  windowBatch?: number | null;
  /** Where the queue is saved every `checkpointEvery` output frames (null: never). */
  checkpoint?: string | null;
  checkpointEvery?: number;
  /** Continue from `checkpoint` instead of starting over. */
  resume?: boolean;
  /** After every iteration (progress). */
  onIteration?: (info: { iteration: number; total: number; emitted: number }) => void;
  /** Every latent update: which slot, which frame, which DDIM index (tests, diagnostics). */
  trace?: (update: { iteration: number; slot: number; frame: number; index: number }) => void;
}

export interface FifoPlan {
  readonly schedule: FifoSchedule;
  /** Iterations of the whole run: N + S − f. */
  readonly iterations: number;
  /** UNet calls per output frame (batched: ⌈R / window batch⌉ each of R·(cfg ? 2 : 1) clips). */
  readonly callsPerFrame: number;
  readonly windowsPerFrame: number;
}

/** The schedule and the run's size, checked; throws a UsageError before anything loads. */
export function fifoPlan(
  options: Pick<FifoOptions, "videoLength" | "partitions" | "lookahead" | "frames" | "windowBatch" | "prompts" | "promptFrames" | "promptBlend">,
): FifoPlan {
  const o = { ...FIFO_DEFAULTS, ...options };
  const schedule = fifoSchedule(o);
  if (o.prompts?.length) new PromptSchedule(o.prompts, o.promptFrames ?? [], o.promptBlend);
  if (!Number.isInteger(o.frames) || o.frames < schedule.length) {
    const ld = schedule.lookahead ? ` + ${schedule.videoLength / 2} lookahead` : "";
    throw new UsageError(
      `--frames ${o.frames} is fewer than the FIFO queue holds: ${schedule.length} latents (${schedule.partitions} partitions × ${schedule.videoLength} frames${ld})`,
      `ask for at least ${schedule.length} frames, or shorten the queue with --partitions or --video-length`,
    );
  }
  const windows = schedule.windows.length;
  const batch = o.windowBatch ?? windows;
  if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`window_batch ${batch} must be a whole number of windows, at least 1`);
  return { schedule, iterations: o.frames + schedule.warmup, callsPerFrame: Math.ceil(windows / batch), windowsPerFrame: windows };
}

export interface FifoStats {
  iterations: number;
  unetCalls: number;
  windows: number;
  emitted: number;
  /** The output index the run started at (0, or where --resume picked up). */
  startedAt: number;
}

/** What a run conditions on: text rows (uncond first) and image tokens, all on the device. */
interface Conditions {
  readonly text: Tensor;
  readonly schedule: PromptSchedule;
  image: { cond: Tensor; uncond: Tensor } | null;
}

/** The queue: one latent [1, 4, h, w] per slot, slot 0 the head. */
interface Queue {
  slots: Tensor[];
  frameIds: number[];
  nextFrameId: number;
  iteration: number;
  emitted: number;
}

export class FifoDiffusion implements Disposable {
  stats: FifoStats = { iterations: 0, unetCalls: 0, windows: 0, emitted: 0, startedAt: 0 };

  private constructor(readonly vd: VideoDiffusion) {}

  static async load(options: { model?: string; device?: string; log?: (line: string) => void } = {}): Promise<FifoDiffusion> {
    return new FifoDiffusion(await VideoDiffusion.load(options.model ?? "tiny-video", options));
  }

  meta(options: { width?: number; height?: number; outputFps?: number }): StreamMeta {
    const o = { ...FIFO_DEFAULTS, ...options };
    return { width: o.width, height: o.height, fps: { num: o.outputFps, den: 1 } };
  }

  /** Output frames, each decoded as it leaves the queue. */
  async *run(options: FifoOptions): AsyncGenerator<Frame, void, undefined> {
    for (const { latent } of this.latents(options)) {
      try {
        yield this.vd.vae.decode(latent);
      } finally {
        latent.dispose();
      }
    }
  }

  /**
   * Throws a UsageError for options this model cannot run (the queue, the size, resuming, image
   * conditioning), so a recipe can ask before it opens its output; latents() asks again.
   */
  check(options: FifoOptions): FifoPlan {
    const o = { ...FIFO_DEFAULTS, ...options };
    const plan = fifoPlan(o);
    checkUnetSize(this.vd.unet.hooks, o.width, o.height);
    if (o.resume && !o.checkpoint) throw new UsageError("--resume needs a checkpoint file (--checkpoint PATH)");
    if (!(o.checkpointEvery >= 0 && Number.isInteger(o.checkpointEvery))) throw new UsageError(`checkpoint_every ${o.checkpointEvery} must be a whole number ≥ 0`);
    if ((o.image || o.seedFrame) && !this.vd.unet.hasImageEmbeds) {
      throw new UsageError(`${this.vd.folder.unet} has no image_embeds input: --image and --seed-frame need an image-conditioned UNet (docs/video-models.md)`);
    }
    return plan;
  }

  /** The latents [1, 4, h, w] that leave the queue, with their output index; the caller disposes each. */
  *latents(options: FifoOptions): Generator<{ index: number; latent: Tensor }, void, undefined> {
    const o = { ...FIFO_DEFAULTS, ...options };
    const plan = this.check(o);
    const s = plan.schedule;
    const [h, w] = [o.height / 8, o.width / 8];
    const noise = new FifoNoise(o.seed, 4 * h * w);
    const settings = this.#settings(o);
    const resumed = o.resume ? loadCheckpoint(o.checkpoint!, settings) : undefined;
    if (resumed && resumed.emitted >= o.frames) throw new UsageError(`--resume: the checkpoint already holds ${resumed.emitted} of ${o.frames} frames`);
    using qCache = o.qCache === null ? undefined : new QCache(this.vd.unet, { weight: o.qCache, attn: o.qCacheAttn });
    const prompts = o.prompts?.length ? o.prompts : [o.prompt];
    const conditions: Conditions = {
      text: this.vd.textEncoder.encode([o.negativePrompt, ...prompts]),
      schedule: new PromptSchedule(prompts, o.prompts?.length ? (o.promptFrames ?? []) : [], o.promptBlend),
      image: null,
    };
    const step = { o, s, qCache, conditions, h, w };
    let queue: Queue | undefined;
    this.stats = { iterations: 0, unetCalls: 0, windows: 0, emitted: resumed?.emitted ?? 0, startedAt: resumed?.emitted ?? 0 };
    try {
      if (resumed) {
        queue = this.#restore(resumed, conditions, h, w);
      } else {
        conditions.image = o.image ? this.#imageTokens(o.image) : null;
        queue = this.#initialQueue(step, noise);
        if (o.seedFrame) this.#seedFrame(queue, conditions, s);
      }
      for (let it = queue.iteration; it < plan.iterations; it++) {
        this.#iterate(step, queue, it, noise);
        const index = it - s.warmup;
        const latent = index >= 0 ? queue.slots[s.outSlot]!.to(this.vd.backend) : undefined;
        shift(queue, noise, this.vd.backend, h, w);
        queue.iteration = it + 1;
        this.stats.iterations++;
        o.onIteration?.({ iteration: it, total: plan.iterations, emitted: queue.emitted });
        if (!latent) continue;
        yield { index, latent };
        queue.emitted++;
        this.stats.emitted = queue.emitted;
        const due = o.checkpoint && o.checkpointEvery > 0 && queue.emitted % o.checkpointEvery === 0 && queue.emitted < o.frames;
        if (due) saveCheckpoint(o.checkpoint!, settings, snapshot(queue, conditions));
      }
    } finally {
      for (const t of queue?.slots ?? []) t.dispose();
      conditions.text.dispose();
      conditions.image?.cond.dispose();
      conditions.image?.uncond.dispose();
    }
  }

  /** What makes the frames what they are; a checkpoint resumes only under the same. */
  #settings(o: typeof FIFO_DEFAULTS & FifoOptions): Record<string, unknown> {
    const image = o.image ? createHash("sha256").update(o.image.data).update(`${o.image.width}x${o.image.height}`).digest("hex").slice(0, 16) : null;
    return {
      model: this.vd.folder.dir, device: this.vd.backend.device, prompts: o.prompts?.length ? o.prompts : [o.prompt],
      promptFrames: o.prompts?.length ? (o.promptFrames ?? []) : [], promptBlend: o.promptBlend, negativePrompt: o.negativePrompt,
      seed: o.seed, guidance: o.guidance, eta: o.eta, videoLength: o.videoLength, partitions: o.partitions, lookahead: o.lookahead,
      width: o.width, height: o.height, fps: o.fps, qCache: o.qCache, qCacheAttn: o.qCache === null ? null : o.qCacheAttn,
      seedFrame: o.seedFrame, uniformLatents: o.uniformLatents, image, windowBatch: o.windowBatch,
    };
  }

  /** One iteration: every window of the pre-iteration queue through the UNet, each frame one DDIM step. */
  #iterate(step: Step, queue: Queue, iteration: number, noise: FifoNoise): void {
    const { o, s } = step;
    const backend = this.vd.backend;
    const batch = o.windowBatch ?? s.windows.length;
    const next = new Map<number, Tensor>();
    for (let g = 0; g < s.windows.length; g += batch) {
      const group = s.windows.slice(g, g + batch);
      using eps = this.#guided(step, queue, group, iteration);
      group.forEach((win, r) => {
        for (let p = win.writeFrom; p < win.end; p++) {
          const k = s.indices[p]!;
          const c = stepCoefficients(this.vd.alphasCumprod, s.tau, k, o.eta);
          using e = clipFrame(eps, r, p - win.start);
          const x = queue.slots[p]!;
          if (c.noise > 0) {
            using z = Tensor.from(backend, "f32", x.shape, noise.step(queue.frameIds[p]!, k));
            next.set(p, axpbypcz(c.x, x, c.eps, e, c.noise, z));
          } else {
            next.set(p, axpby(c.x, x, c.eps, e));
          }
          o.trace?.({ iteration, slot: p, frame: queue.frameIds[p]!, index: k });
        }
      });
    }
    for (const [p, t] of next) {
      queue.slots[p]!.dispose();
      queue.slots[p] = t;
    }
  }

  /** ε for a group of windows in one UNet call ([uncond; cond] clips with guidance), guided. */
  #guided(step: Step, queue: Queue, windows: readonly Window[], iteration: number): Tensor {
    const { s, h, w } = step;
    const f = s.videoLength;
    using sample = Tensor.uninitialized(this.vd.backend, "f32", [windows.length, 4, f, h, w]);
    windows.forEach((win, r) => {
      for (let j = 0; j < f; j++) writeClipFrame(sample, r, j, queue.slots[win.start + j]!);
    });
    const timesteps = windows.flatMap((win) => s.timesteps.slice(win.start, win.end));
    const weights = windows.map((win) => step.conditions.schedule.at(outputIndexAt(s, iteration, win.start + f / 2)));
    this.stats.windows += windows.length;
    return this.#predict(step, sample, timesteps, weights, iteration);
  }

  /**
   * Guided ε for clips `sample` [R, 4, T, h, w] with per-frame `timesteps` and, per clip, prompt
   * weights [[prompt, weight], …]. Guidance > 1 runs [uncond; cond] as one batch of 2R clips.
   */
  #predict(step: Step, sample: Tensor, timesteps: readonly number[], weights: readonly [number, number][][], iteration: number): Tensor {
    const { o, qCache, conditions } = step;
    const backend = this.vd.backend;
    const clips = sample.shape[0]!;
    const guided = o.guidance > 1;
    const rows = guided ? 2 * clips : clips;
    const [, tokens = 77, width = 0] = conditions.text.shape;
    using context = Tensor.uninitialized(backend, "f32", [rows, tokens, width]);
    const rowBytes = tokens * width * 4;
    weights.forEach((mix, r) => {
      const at = (guided ? clips + r : r) * rowBytes;
      const row = (j: number) => conditions.text.slice(j + 1, j + 2);
      if (mix.length === 1) {
        using only = row(mix[0]![0]);
        backend.copy(context.storage, at, only.storage, only.byteOffset, rowBytes);
      } else {
        using a = row(mix[0]![0]);
        using b = row(mix[1]![0]);
        using blended = lerp(a, b, mix[1]![1]);
        backend.copy(context.storage, at, blended.storage, blended.byteOffset, rowBytes);
      }
      if (guided) backend.copy(context.storage, r * rowBytes, conditions.text.storage, conditions.text.byteOffset, rowBytes);
    });
    using input = guided ? Tensor.concat([sample, sample]) : sample.reshape(sample.shape);
    using image = conditions.image ? imageRows(conditions.image, clips, guided) : undefined;
    qCache?.begin();
    let eps: Tensor;
    try {
      eps = this.vd.unet.predict(input, guided ? [...timesteps, ...timesteps] : timesteps, context, { fps: o.fps, imageEmbeds: image, step: iteration >= 0 ? { index: iteration } : undefined });
    } finally {
      qCache?.end();
    }
    this.stats.unetCalls++;
    if (!guided) return eps;
    using all = eps;
    using uncond = all.slice(0, clips);
    using cond = all.slice(clips, rows);
    return axpby(1 - o.guidance, uncond, o.guidance, cond);
  }

  /** Base clip (a plain S-step DDIM generation of f frames), then the queue corrupted from it (spec step 3). */
  #initialQueue(step: Step, noise: FifoNoise): Queue {
    const { o, s, h, w } = step;
    const backend = this.vd.backend;
    const f = s.videoLength;
    let x = Tensor.from(backend, "f32", [1, 4, f, h, w], noise.base(f));
    try {
      const weights = [step.conditions.schedule.at(0)];
      for (let k = s.steps - 1; k >= 0; k--) {
        using eps = this.#predict(step, x, Array<number>(f).fill(s.tau[k]!), weights, -1 - k);
        const c = stepCoefficients(this.vd.alphasCumprod, s.tau, k, o.eta);
        using z = c.noise > 0 ? Tensor.from(backend, "f32", x.shape, noise.baseStep(f, k)) : undefined;
        const next = z ? axpbypcz(c.x, x, c.eps, eps, c.noise, z) : axpby(c.x, x, c.eps, eps);
        x.dispose();
        x = next;
      }
      const base = Array.from({ length: f }, (_, j) => clipFrame(x, 0, j));
      const slots: Tensor[] = [];
      const corrupt = (frame: Tensor, k: number, id: number) => {
        const a = this.vd.alphasCumprod[s.tau[k]!]!;
        using z = Tensor.from(backend, "f32", frame.shape, noise.initial(id));
        return axpby(Math.sqrt(a), frame, Math.sqrt(1 - a), z);
      };
      for (let q = 0; q < s.outSlot; q++) slots.push(corrupt(base[0]!, 0, slots.length));
      for (let i = 0; i < s.steps; i++) slots.push(corrupt(base[initFrame(i, s, o.uniformLatents)]!, i, slots.length));
      for (const t of base) t.dispose();
      return { slots, frameIds: slots.map((_, i) => i), nextFrameId: slots.length, iteration: 0, emitted: 0 };
    } finally {
      x.dispose();
    }
  }

  /** The fork's t2v_seed: the head's near-clean latent, decoded and embedded, conditions the rest of the run. */
  #seedFrame(queue: Queue, conditions: Conditions, s: FifoSchedule): void {
    const seed = this.#imageTokens(this.vd.vae.decode(queue.slots[s.outSlot]!));
    const previous = conditions.image;
    if (!previous) {
      conditions.image = seed;
      return;
    }
    // i2v and seeding: the input picture's tokens, then the seed frame's (the fork's 77 + 16 + 16)
    conditions.image = { cond: concatTokens(previous.cond, seed.cond), uncond: concatTokens(previous.uncond, seed.uncond) };
    for (const t of [previous.cond, previous.uncond, seed.cond, seed.uncond]) t.dispose();
  }

  /** Image tokens of `frame`, and of an all-zero image ([-1, 1] space: mid grey) for the unconditional half. */
  #imageTokens(frame: Frame): { cond: Tensor; uncond: Tensor } {
    const encoder = this.vd.imageEncoder;
    if (!encoder) throw new UsageError(`${this.vd.folder.dir} has no image_encoder/model.onnx: --image and --seed-frame need one (docs/video-models.md)`);
    const grey = { width: frame.width, height: frame.height, data: new Uint8Array(frame.data.length).fill(128) };
    return { cond: encoder.embed(frame), uncond: encoder.embed(grey) };
  }

  #restore(state: QueueState, conditions: Conditions, h: number, w: number): Queue {
    const backend = this.vd.backend;
    const size = 4 * h * w;
    if (state.slotSize !== size) throw new UsageError(`--resume: the checkpoint's latents are ${state.slotSize} values, this run's ${size}`);
    const slots = state.frameIds.map((_, i) => Tensor.from(backend, "f32", [1, 4, h, w], state.slots.subarray(i * size, (i + 1) * size)));
    if (state.image) {
      conditions.image = { cond: Tensor.from(backend, "f32", state.image.shape, state.image.cond), uncond: Tensor.from(backend, "f32", state.image.shape, state.image.uncond) };
    }
    return { slots, frameIds: [...state.frameIds], nextFrameId: state.nextFrameId, iteration: state.iteration, emitted: state.emitted };
  }

  dispose(): void {
    this.vd.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

interface Step {
  readonly o: typeof FIFO_DEFAULTS & FifoOptions;
  readonly s: FifoSchedule;
  readonly qCache: QCache | undefined;
  readonly conditions: Conditions;
  readonly h: number;
  readonly w: number;
}

/** Drops the head, adds frame `nextFrameId`'s noise at the tail. */
function shift(queue: Queue, noise: FifoNoise, backend: Backend, h: number, w: number): void {
  queue.slots.shift()!.dispose();
  queue.frameIds.shift();
  queue.slots.push(Tensor.from(backend, "f32", [1, 4, h, w], noise.initial(queue.nextFrameId)));
  queue.frameIds.push(queue.nextFrameId++);
}

function snapshot(queue: Queue, conditions: Conditions): QueueState {
  const size = queue.slots[0]!.size;
  const slots = new Float32Array(queue.slots.length * size);
  queue.slots.forEach((t, i) => slots.set(t.readF32(), i * size));
  const image = conditions.image ? { shape: conditions.image.cond.shape, cond: conditions.image.cond.readF32(), uncond: conditions.image.uncond.readF32() } : null;
  return { iteration: queue.iteration, emitted: queue.emitted, frameIds: queue.frameIds, nextFrameId: queue.nextFrameId, slotSize: size, slots, image };
}

/** Image tokens for `clips` clips: [uncond × clips; cond × clips] with guidance, cond × clips without. */
function imageRows(image: { cond: Tensor; uncond: Tensor }, clips: number, guided: boolean): Tensor {
  const cond = Array<Tensor>(clips).fill(image.cond);
  return Tensor.concat(guided ? [...Array<Tensor>(clips).fill(image.uncond), ...cond] : cond);
}

/** [1, N1, D] ++ [1, N2, D] along the tokens. */
function concatTokens(a: Tensor, b: Tensor): Tensor {
  const out = Tensor.uninitialized(a.backend, "f32", [1, a.shape[1]! + b.shape[1]!, a.shape[2]!]);
  out.backend.copy(out.storage, 0, a.storage, a.byteOffset, a.byteLength);
  out.backend.copy(out.storage, a.byteLength, b.storage, b.byteOffset, b.byteLength);
  return out;
}
