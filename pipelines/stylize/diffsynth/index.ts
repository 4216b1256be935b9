/**
 * DiffSynth video stylisation: a per-frame SD + ControlNet pipeline made temporally coherent by
 * cross-frame attention (cross-frame.ts), one shared seeded noise for every frame, and an
 * in-loop deflicker (x̂0 → decode → patch-match smoother guided by the input → encode → ε').
 * Ref: shared/specs/diffsynth.md; docs/diffsynth.md.
 *
 *   using job = await DiffSynth.load({ model: "tiny-controlnet" });
 *   await using out = openFrameSink("out.mp4", video.meta);
 *   for await (const f of job.run(video.frames, { prompt: "an oil painting" })) await out.write(f);
 *
 * Frames stream in chunks of `chunk`: each chunk is denoised step by step over all its frames
 * (the smoother needs every frame's x̂0 at a step), so memory is bounded by the chunk, not the video.
 */
import { FrameError, UsageError } from "../../errors.ts";
import type { Frame } from "../../io/frame.ts";
import { preferKernelsBetweenRuns } from "../../runtime/ort-model.ts";
import { Tensor } from "../../runtime/tensor.ts";
import type { ControlGuidance, ControlSpec } from "../../sd/control-guidance.ts";
import { ControlNet } from "../../sd/controlnet.ts";
import { createScheduler, type Scheduler } from "../../sd/schedulers/index.ts";
import { StableDiffusion } from "../../sd/stable-diffusion.ts";
import { tensorOps } from "../../sd/tensor-ops.ts";
import { PATCH_MATCH_DEFAULTS, PatchMatcher } from "../patch-match.ts";
import { SMOOTH_DEFAULTS, type SmoothMode, smootherMemory, smoothVideo } from "../smoother.ts";
import { createProcessor, type ControlProcessor, type Processor } from "./conditions.ts";
import { CrossFrameAttention } from "./cross-frame.ts";
import { cropResize, generationSize } from "./frames.ts";
import { PooledGuidance } from "./pooled-control.ts";
import { chunkSourceIds, crossesFrames, parsePattern, type PatternEntry, smootherSteps } from "./pattern.ts";

export { CONTROL_PROCESSORS, contentShuffle, type ControlProcessor } from "./conditions.ts";
export { CrossFrameAttention, jointAttention } from "./cross-frame.ts";
export { cropResize, generationSize } from "./frames.ts";
export { globalPool, PooledGuidance } from "./pooled-control.ts";
export { chunkSourceIds, combineSources, crossesFrames, parsePattern, type PatternEntry, type PatternSource, smootherSteps } from "./pattern.ts";

export interface ControlEntry {
  processor: ControlProcessor;
  /** Residual multiplier; 0 = loaded but inert (as the templates use it). */
  scale: number;
  /** A ControlNet ONNX file; null = the model folder's controlnet/. */
  model?: string | null;
}

export interface SmootherSettings {
  mode: SmoothMode;
  /** Frames each side; larger than the chunk blends the whole chunk (DiffSynth's w10000). */
  window: number;
  contrast: number;
  sharpness: number;
  patchSize: number;
  iterations: number;
  guideWeight: number;
}

export interface StylizeOptions {
  prompt: string;
  negativePrompt: string;
  /** Seeds the ONE noise every frame starts from (seed_of_noise). */
  seed: number;
  steps: number;
  guidance: number;
  /** img2img_strength: 1 = from the shared noise alone, less = from the noised input frames. */
  strength: number;
  /** Generation size; null = the input's, floored to multiples of 8. */
  size: { width: number; height: number } | null;
  frameInterval: number;
  /** Frames after subsampling; null = all. */
  frameMaximumCount: number | null;
  /** Frames denoised together; memory is bounded by it. */
  chunk: number;
  /**
   * Carry the previous chunk's last frame (and, for anchors like −10000, the clip's first) into
   * the next chunk: its latents at every step (re-run for K/V) and its smoothed frames (blended in
   * by the smoother), so chunks do not seam. false: chunks are independent clips.
   */
  chunkCarry: boolean;
  combinePattern: readonly (number | string)[];
  /** frames_reference: images addressable as reference_k. */
  references: readonly Frame[];
  controls: readonly ControlEntry[];
  styleImage: Frame | null;
  depthModel: string | null;
  /** In-loop deflicker on/off, and when: s % interval = 0 and s < S − ignore. */
  smoother: boolean;
  smootherInterval: number;
  ignoreSmootherSteps: number;
  /** Smooth the decoded output once more (guide = input). */
  postSmoother: boolean;
  smoothing: SmootherSettings;
  /** Per chunk: the starting latents of its frames (tests check the shared noise). */
  onStart?: (latents: readonly Tensor[]) => void;
  /** After each denoising step of a chunk. */
  onStep?: (info: { chunk: number; stepIndex: number; total: number; smoothed: boolean }) => void;
}

/** The one home of these numbers: the recipe's schema and configs/stylize.yaml take them from here. */
export const STYLIZE_DEFAULTS = {
  prompt: "a watercolour painting, soft brush strokes",
  negativePrompt: "",
  seed: 0,
  // the templates run 10–20 on SD 1.5; the tiny model needs few
  steps: 6,
  guidance: 7.5,
  // DiffSynth's default is 1 (from noise alone), where SD 1.5's depth/HED ControlNets carry the
  // input's layout; the tiny ControlNet is too weak for that, so the built-in run starts from the
  // noised input frames and keeps their layout (and, without the smoother, their flicker)
  strength: 0.6,
  size: null as { width: number; height: number } | null,
  frameInterval: 1,
  frameMaximumCount: null as number | null,
  chunk: 8,
  chunkCarry: true,
  combinePattern: [-1, 0, 1] as readonly (number | string)[],
  references: [] as readonly Frame[],
  controls: [{ processor: "canny", scale: 1, model: null }] as readonly ControlEntry[],
  styleImage: null as Frame | null,
  depthModel: null as string | null,
  smoother: true,
  smootherInterval: 1,
  ignoreSmootherSteps: 0,
  postSmoother: false,
  smoothing: {
    mode: "fast" as SmoothMode,
    window: 3,
    contrast: SMOOTH_DEFAULTS.contrast,
    sharpness: SMOOTH_DEFAULTS.sharpness,
    patchSize: PATCH_MATCH_DEFAULTS.patchSize,
    iterations: PATCH_MATCH_DEFAULTS.iterations,
    guideWeight: PATCH_MATCH_DEFAULTS.guideWeight,
  } as SmootherSettings,
};

/** The built-in clip of recipes/stylize.ts: the flickering clip, small (the tiny ControlNet needs sides in multiples of 32). */
export const STYLIZE_CLIP = { frames: 8, width: 64, height: 64 };

export interface StylizeStats {
  frames: number;
  chunks: number;
  /** Model passes: attend (kept output) and record (K/V only) ones. */
  attendPasses: number;
  recordPasses: number;
  smootherCalls: number;
}

/** A frame of an earlier chunk whose K/V a later chunk attends over. */
interface CarriedFrame {
  input: Frame;
  /** Its latents entering each step (re-run there for K/V). */
  trajectory: Float32Array[];
}

/** Frames the smoother blends in from before the chunk, with their guides (input frames). */
interface Window {
  styles: Frame[];
  guides: Frame[];
}

interface Carry {
  anchor?: CarriedFrame;
  last?: CarriedFrame;
  /** The last `smoother window` frames so far: their smoothed x̂0 per in-loop step, and their outputs. */
  smoothed: (Window | undefined)[];
  outputs?: Window;
}

/** The last `k` frames of `before` followed by `styles` (guided by `guides`). */
function tail(before: Window | undefined, styles: readonly Frame[], guides: readonly Frame[], k: number): Window {
  return { styles: [...(before?.styles ?? []), ...styles].slice(-k), guides: [...(before?.guides ?? []), ...guides].slice(-k) };
}

interface Image {
  id: string;
  /** Latents for frames; clean latents for references (re-noised every step, never denoised). */
  latents: Tensor;
  control?: ControlGuidance;
}

export class DiffSynth implements Disposable {
  readonly stats: StylizeStats = { frames: 0, chunks: 0, attendPasses: 0, recordPasses: 0, smootherCalls: 0 };
  /** The last run's cross-frame attention (its K/V cache statistics). */
  crossFrame: CrossFrameAttention | undefined;

  private constructor(readonly sd: StableDiffusion) {}

  static async load(options: { model?: string; device?: string; log?: (line: string) => void } = {}): Promise<DiffSynth> {
    // the joint attention runs in TypeScript between UNet segments: ORT's threads must not spin meanwhile
    preferKernelsBetweenRuns();
    return new DiffSynth(await StableDiffusion.load(options.model ?? "tiny-controlnet", options));
  }

  /** DDIM with DiffSynth's timesteps (999, 999 − 1000/N, …; ᾱ_prev = 1 past the end), img2img keeping the last int(N·strength). */
  scheduler(steps: number, strength: number): Scheduler {
    const s = createScheduler({ ...this.sd.folder.schedulerConfig, timestep_spacing: "trailing", set_alpha_to_one: true }, "ddim");
    if (Math.floor(steps * strength) === 0) {
      throw new UsageError(`img2img_strength ${strength} with ${steps} steps leaves no step to run (int(steps·strength) = 0)`);
    }
    s.setTimesteps(steps, { strength });
    return s;
  }

  /** Sides must be multiples of this (the UNet's Unet.sizeMultiple). */
  get sizeMultiple(): number {
    return this.sd.unet.sizeMultiple;
  }

  /** The size run() generates at for input frames of `input` (spec §1: crop to the aspect, then resize). */
  size(input: { width: number; height: number }, asked?: { width: number; height: number } | null): { width: number; height: number } {
    return generationSize(input, asked, this.sizeMultiple);
  }

  /** Checks options as run() will, without reading a frame (a recipe calls it before opening its output). */
  check(options: Partial<StylizeOptions> = {}): { options: StylizeOptions; pattern: PatternEntry[] } {
    const o: StylizeOptions = { ...STYLIZE_DEFAULTS, ...options, smoothing: { ...STYLIZE_DEFAULTS.smoothing, ...options.smoothing } };
    checkOptions(o);
    const pattern = parsePattern(o.combinePattern, o.references.length);
    this.scheduler(o.steps, o.strength); // refuses an empty schedule
    return { options: o, pattern };
  }

  /**
   * What a run holds, for frames of `size`: frames per chunk (+ carried ones) and the smoother's
   * device bytes per call (smootherMemory of pipelines/stylize). The K/V cache is reported by
   * crossFrame.stats as it runs (it depends on the export's widths).
   */
  memory(options: Partial<StylizeOptions>, size: { width: number; height: number }): { frames: number; smootherBytes: number } {
    const { options: o } = this.check(options);
    const carried = o.chunkCarry ? o.smoothing.window : 0;
    const frames = o.chunk + carried;
    const window = Math.max(1, Math.min(o.smoothing.window, frames - 1));
    const smoother = smootherMemory({ ...SMOOTH_DEFAULTS, mode: o.smoothing.mode, window }, size, { ...PATCH_MATCH_DEFAULTS, ...o.smoothing }, true);
    return { frames, smootherBytes: o.smoother || o.postSmoother ? smoother.bytes : 0 };
  }

  /** Output frames in input order, each chunk's as soon as it is done. */
  async *run(frames: AsyncIterable<Frame>, options: Partial<StylizeOptions> = {}): AsyncGenerator<Frame, void, undefined> {
    const { options: o, pattern } = this.check(options);
    const sd = this.sd;
    const extraNets = new Map<string, ControlNet>();
    const processors: Processor[] = [];
    using cross = new CrossFrameAttention();
    this.crossFrame = cross;
    const matcher = new PatchMatcher(sd.backend, {
      patchSize: o.smoothing.patchSize, iterations: o.smoothing.iterations, guideWeight: o.smoothing.guideWeight, init: "identity",
    });
    try {
      for (const c of o.controls) {
        if (c.model && !extraNets.has(c.model)) extraNets.set(c.model, ControlNet.load(c.model, sd.backend));
        if (!c.model && !sd.controlnet) throw new UsageError(`model ${sd.folder.dir} has no controlnet/: give controlnet_model, or no controls`);
        processors.push(createProcessor(c.processor, sd.backend, { depthModel: o.depthModel, styleImage: o.styleImage }));
      }
      if (crossesFrames(pattern)) {
        cross.install(sd.unet, "unet");
        const nets = new Set([...o.controls.map((c) => (c.model ? extraNets.get(c.model)! : sd.controlnet!))]);
        let k = 0;
        for (const net of nets) cross.install(net, `controlnet${k++}`);
      }
      let size: { width: number; height: number } | undefined;
      let chunk: Frame[] = [];
      let seen = 0, kept = 0, start = 0;
      let carry: Carry = { smoothed: [] };
      for await (const source of frames) {
        if (seen++ % o.frameInterval !== 0) continue;
        if (o.frameMaximumCount !== null && kept >= o.frameMaximumCount) break;
        kept++;
        size ??= this.size(source, o.size);
        chunk.push(cropResize(source, size.width, size.height));
        if (chunk.length === o.chunk) {
          carry = yield* this.#chunk(chunk, start, carry, size, o, pattern, processors, extraNets, cross, matcher);
          start += chunk.length;
          chunk = [];
        }
      }
      if (seen === 0) throw new FrameError("the video holds no frames");
      if (chunk.length) yield* this.#chunk(chunk, start, carry, size!, o, pattern, processors, extraNets, cross, matcher);
    } finally {
      matcher.dispose();
      for (const p of processors) p[Symbol.dispose]();
      for (const n of extraNets.values()) n.dispose();
    }
  }

  async *#chunk(
    inputs: readonly Frame[],
    start: number,
    carry: Carry,
    size: { width: number; height: number },
    o: StylizeOptions,
    pattern: readonly PatternEntry[],
    processors: readonly Processor[],
    nets: ReadonlyMap<string, ControlNet>,
    cross: CrossFrameAttention,
    matcher: PatchMatcher,
  ): AsyncGenerator<Frame, Carry, undefined> {
    const sd = this.sd;
    const n = inputs.length;
    const scheduler = this.scheduler(o.steps, o.strength);
    const S = scheduler.timesteps.length;
    const smoothAt = new Set(o.smoother ? smootherSteps(S, o.smootherInterval, o.ignoreSmootherSteps) : []);
    // what the next chunk will need of this one (an anchor only if an offset can reach frame 0 from there)
    const next: Carry = { anchor: carry.anchor, smoothed: [] };
    const keep = o.chunkCarry ? o.smoothing.window : 0;
    const track = (input: Frame): CarriedFrame => ({ input, trajectory: [] });
    if (o.chunkCarry) {
      next.last = track(inputs[n - 1]!);
      if (start === 0 && pattern.some((e) => typeof e === "number" && e <= -o.chunk)) next.anchor = track(inputs[0]!);
    }
    const chunkIndex = this.stats.chunks++;
    const disposables: Disposable[] = [];
    const own = <T extends Disposable>(t: T) => (disposables.push(t), t);
    try {
      const conditioning = sd.condition(o.prompt, o.negativePrompt, o.guidance);
      own(conditioning.context);
      // ONE noise tensor for every frame and reference (spec §5)
      const noise = own(sd.noise(o.seed, size.width, size.height));
      const control = (frame: Frame): ControlGuidance | undefined => {
        if (o.controls.length === 0) return undefined;
        const conditions = processors.map((p) => own(p(frame)));
        const specs: ControlSpec[] = o.controls.map((c, k) => ({ image: conditions[k]!.image, scale: c.scale, model: c.model ? nets.get(c.model) : undefined }));
        if (!o.controls.some((c) => c.processor === "shuffle")) return own(sd.controlGuidance(specs, size.width, size.height, S));
        // Shuffle is a global-pool net: each condition its own guidance, pooled ones averaged
        const parts = specs.map((spec, k) => ({ guidance: sd.controlGuidance([spec], size.width, size.height, S), pooled: o.controls[k]!.processor === "shuffle" }));
        return own(new PooledGuidance(parts, sd.unet.model.inputs, sd.unet.dtype, sd.backend, size, S));
      };
      const t0 = scheduler.timesteps[0]!;
      const frames: Image[] = inputs.map((f, i) => {
        let latents: Tensor;
        if (o.strength >= 1) latents = tensorOps.combine([[scheduler.initNoiseSigma, noise]]);
        else {
          using clean = sd.vae.encode(f, sd.backend);
          latents = scheduler.addNoise(tensorOps, clean, noise, t0);
        }
        return { id: `f${i}`, latents, control: control(f) };
      });
      const references: Image[] = o.references.map((r, k) => {
        const f = cropResize(r, size.width, size.height);
        return { id: `r${k}`, latents: own(sd.vae.encode(f, sd.backend)), control: control(f) };
      });
      o.onStart?.(frames.map((f) => f.latents));
      const carried = { anchor: carry.anchor !== undefined, last: carry.last !== undefined };
      const sources = frames.map((_, i) => chunkSourceIds(i, n, start, pattern, carried));
      const needed = new Set(sources.flatMap((ids, i) => ids.filter((id) => id !== `f${i}`)));
      const crossing = crossesFrames(pattern);
      // carried frames are re-run from their stored latents at each step, for their K/V
      const earlier = (["a", "c"] as const).flatMap((id) => {
        const f = id === "a" ? carry.anchor : carry.last;
        return f && needed.has(id) ? [{ id, frame: f, control: control(f.input) }] : [];
      });
      const denoisers = new Map<string, ReturnType<StableDiffusion["guidedDenoiser"]>>();
      for (const im of [...frames, ...references, ...earlier]) denoisers.set(im.id, sd.guidedDenoiser(conditioning, im.control));

      for (let s = 0; s < S; s++) {
        const t = scheduler.timesteps[s]!;
        cross.newStep();
        if (next.last) next.last.trajectory.push(frames[n - 1]!.latents.readF32());
        if (next.anchor && next.anchor !== carry.anchor) next.anchor.trajectory.push(frames[0]!.latents.readF32());
        if (crossing) {
          for (const { id, frame } of earlier) {
            using x = Tensor.from(sd.backend, "f32", frames[0]!.latents.shape, frame.trajectory[s]!);
            cross.pass("record", id);
            denoisers.get(id)!(x, t, s).dispose();
            cross.release();
            this.stats.recordPasses++;
          }
          for (const im of [...frames, ...references]) {
            if (!needed.has(im.id)) continue;
            using x = im.id.startsWith("r") ? scheduler.addNoise(tensorOps, im.latents, noise, t) : scheduler.scaleModelInput(tensorOps, im.latents, s);
            cross.pass("record", im.id);
            denoisers.get(im.id)!(x, t, s).dispose();
            cross.release();
            this.stats.recordPasses++;
          }
        }
        let eps: Tensor[] = frames.map((im, i) => {
          using x = scheduler.scaleModelInput(tensorOps, im.latents, s);
          cross.pass(crossing ? "attend" : "off", im.id, sources[i]);
          try {
            return denoisers.get(im.id)!(x, t, s);
          } finally {
            cross.release();
            this.stats.attendPasses++;
          }
        });
        const before = carry.smoothed[s];
        if (smoothAt.has(s) && n + (before?.styles.length ?? 0) > 1) {
          const r = await this.#smoothStep(frames.map((f) => f.latents), eps, inputs, scheduler, s, o, matcher, before);
          eps = r.eps;
          if (keep) next.smoothed[s] = tail(before, r.smoothed, inputs, keep);
          this.stats.smootherCalls++;
        }
        for (const [i, im] of frames.entries()) {
          const next = scheduler.step(tensorOps, eps[i]!, s, im.latents);
          eps[i]!.dispose();
          im.latents.dispose();
          im.latents = next;
        }
        o.onStep?.({ chunk: chunkIndex, stepIndex: s, total: S, smoothed: smoothAt.has(s) });
      }
      cross.newStep();
      let outputs = frames.map((im) => sd.vae.decode(im.latents));
      for (const im of frames) im.latents.dispose();
      const prior = carry.outputs;
      if (o.postSmoother && n + (prior?.styles.length ?? 0) > 1) outputs = await this.#smooth(outputs, inputs, o, matcher, prior);
      if (keep) next.outputs = tail(prior, outputs, inputs, keep);
      for (const f of outputs) {
        this.stats.frames++;
        yield f;
      }
      return next;
    } finally {
      for (const d of disposables.reverse()) d[Symbol.dispose]();
    }
  }

  /**
   * Spec §7: x̂0 = (x − √(1−ᾱ)·ε)/√ᾱ → decode → smooth (guide = input) → x̂0' = encode →
   * ε' = (x − √ᾱ·x̂0')/√(1−ᾱ). Consumes `eps`; returns the new predictions.
   */
  async #smoothStep(
    latents: readonly Tensor[],
    eps: readonly Tensor[],
    inputs: readonly Frame[],
    scheduler: Scheduler,
    s: number,
    o: StylizeOptions,
    matcher: PatchMatcher,
    before?: Window,
  ): Promise<{ eps: Tensor[]; smoothed: Frame[] }> {
    const sd = this.sd;
    const { signal, noise } = scheduler.noiseCoefficients(scheduler.timesteps[s]!);
    const decoded = latents.map((x, i) => {
      using x0 = scheduler.predictOriginal(tensorOps, eps[i]!, s, x);
      return sd.vae.decode(x0);
    });
    for (const e of eps) e.dispose();
    const smoothed = await this.#smooth(decoded, inputs, o, matcher, before);
    const next = latents.map((x, i) => {
      using x0 = sd.vae.encode(smoothed[i]!, sd.backend);
      return noiseFromOriginal(x, x0, signal, noise);
    });
    return { eps: next, smoothed };
  }

  /** The FastBlend smoother over a chunk, guided by the input frames; a window past the chunk blends all of it. */
  async #smooth(styles: readonly Frame[], guides: readonly Frame[], o: StylizeOptions, matcher: PatchMatcher, before?: Window): Promise<Frame[]> {
    const m = o.smoothing;
    // the previous chunk's last frames lead the window (their outputs are dropped): no seam between chunks
    const lead = before?.styles.length ?? 0;
    const allStyles = [...(before?.styles ?? []), ...styles], allGuides = [...(before?.guides ?? []), ...guides];
    async function* pairs() {
      for (const [i, style] of allStyles.entries()) yield { style, guide: allGuides[i]! };
    }
    const out: Frame[] = [];
    const window = Math.min(m.window, allStyles.length - 1);
    let k = 0;
    for await (const f of smoothVideo(pairs(), matcher, { mode: m.mode, window, contrast: m.contrast, sharpness: m.sharpness })) {
      if (k++ >= lead) out.push(f);
    }
    return out;
  }

  dispose(): void {
    this.sd.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** ε' = (x − √ᾱ·x̂0)/√(1−ᾱ), with signal = √ᾱ and noise = √(1−ᾱ): the prediction that makes x̂0 the step's clean latent. */
export function noiseFromOriginal(x: Tensor, x0: Tensor, signal: number, noise: number): Tensor {
  return tensorOps.combine([[1 / noise, x], [-signal / noise, x0]]);
}

function checkOptions(o: StylizeOptions): void {
  const ints: [string, number, number][] = [
    ["steps", o.steps, 1], ["frame_interval", o.frameInterval, 1], ["chunk", o.chunk, 1],
    ["smoother_interval", o.smootherInterval, 1], ["ignore_smoother_steps", o.ignoreSmootherSteps, 0],
  ];
  for (const [k, v, min] of ints) if (!Number.isInteger(v) || v < min) throw new UsageError(`${k} ${v} must be an integer ≥ ${min}`);
  if (o.frameMaximumCount !== null && !(Number.isInteger(o.frameMaximumCount) && o.frameMaximumCount >= 1)) {
    throw new UsageError(`frame_maximum_count ${o.frameMaximumCount} must be an integer ≥ 1`);
  }
  if (!(o.strength > 0 && o.strength <= 1)) throw new UsageError(`img2img_strength ${o.strength} must be in (0, 1]`);
  if (o.controls.some((c) => c.processor === "shuffle") && !o.styleImage) {
    throw new UsageError("controlnet_processor shuffle needs a style image: --style-image FILE");
  }
}
