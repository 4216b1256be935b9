/**
 * Attention interpolation: temporally consistent video-to-video with ControlNet. Every frame is
 * generated from the same seed; inside self-attention (probs, out, optionally q/k/v) and on the
 * latents after each step, the current frame is blended with the stored, already-blended state of
 * the previous frame at the same (site, denoising step). Ref: shared/specs/attention-interpolation.md;
 * docs/attention-interpolation.md.
 *
 *   using ai = await AttentionInterpolation.load({ model: "tiny-controlnet" });
 *   const src = await openFrameSource("in.mp4");
 *   await using out = openFrameSink("out.mp4", src.meta);
 *   for await (const f of ai.run(src.frames, { prompt: "an oil painting" })) await out.write(f);
 */
import { UsageError } from "../errors.ts";
import type { Frame } from "../io/frame.ts";
import type { Tensor } from "../runtime/tensor.ts";
import type { StepInfo } from "../sd/sampler.ts";
import { StableDiffusion } from "../sd/stable-diffusion.ts";
import type { HookHandle, HookSite, SiteSelector, UnetHook } from "../sd/unet-hooks.ts";
import { BlendState } from "./blend-state.ts";
import { anySite, checkInterpolation, DEFAULT_INTERPOLATION, type AttentionBlendConfig, type InterpolationConfig, type SiteName } from "./config.ts";
import { createConditioner, type ControlProcessor, type Conditioner } from "./conditioner.ts";
import { HistogramMatcher, type HistMode } from "./histogram-match.ts";
import { resizeFrame } from "./resize.ts";
import { blendsAt, emaAt } from "./schedules.ts";
import { SiteBlender } from "./site-blender.ts";
import { preferKernelsBetweenRuns } from "../runtime/ort-model.ts";

export * from "./config.ts";
export * from "./schedules.ts";
export { BlendState, STATE_DTYPES, type StateDtype } from "./blend-state.ts";
export { CONTROL_PROCESSORS, type ControlProcessor } from "./conditioner.ts";
export { HIST_MODES, HistogramMatcher, type HistMode } from "./histogram-match.ts";
export { resizeFrame } from "./resize.ts";
export { SYNTHETIC_CLIP_DEFAULTS, syntheticClip, syntheticClipMeta, syntheticFrame } from "./synthetic-clip.ts";

export interface InterpolateOptions {
  prompt: string;
  negativePrompt?: string;
  /** Re-used for every frame: identical initial noise. */
  seed?: number;
  steps?: number;
  guidance?: number;
  /** Generation size; frames are resized to it. Default: the input frame's size. */
  width?: number;
  height?: number;
  guessMode?: boolean;
  conditioningScale?: number;
  processor?: ControlProcessor;
  /** ONNX depth model and its normalisation, for processor "depth". */
  depthModel?: string | null;
  depthNormalize?: "frame" | "clip";
  histNormalize?: HistMode;
  /** Resize each output back to its input frame's size. */
  originalOutputSize?: boolean;
  /** img2img from the (resized) input frame with this strength; null = text-to-image (the reference). */
  strength?: number | null;
  interpolation?: Partial<InterpolationConfig>;
  /** After each denoising step (progress). */
  onStep?: (info: StepInfo<Tensor>) => void;
  /** Once per clip, before any state is stored: what the state will hold. */
  onEstimate?: (estimate: StateEstimate) => void;
  /** Once, before the first frame: the sites the hooks picked in each model at this size. */
  onSites?: (hooked: readonly { model: "unet" | "controlnet"; sites: readonly HookSite[] }[]) => void;
}

/** The one home of these numbers: the recipe's schema and configs/attention-interp.yaml take them from here. */
export const INTERPOLATE_DEFAULTS = {
  negativePrompt: "lowres, worst quality, low quality",
  seed: 17,
  // the reference runs 25 on SD 1.5; 8 is plenty for the built-in tiny model
  steps: 8,
  guidance: 7.5,
  guessMode: true,
  conditioningScale: 1,
  processor: "canny" as ControlProcessor,
  depthNormalize: "frame" as "frame" | "clip",
  histNormalize: "lab" as HistMode,
  originalOutputSize: true,
  strength: null as number | null,
};

export interface StateEstimate {
  bytes: number;
  /** Bytes per site kind ("latents" for the pipe state), all blended steps together. */
  bySite: Record<string, number>;
  /** Steps at which the UNet sites / ControlNet sites / latents blend. */
  steps: { unet: number; controlnet: number; latents: number };
}

export interface InterpolationStats {
  frames: number;
  /** UNet / ControlNet hook calls and how many of them blended. */
  hookCalls: number;
  blends: number;
}

/** Anything with the hook API: the UNet and the ControlNet. */
interface Hookable {
  hook(selector: SiteSelector, fn: UnetHook): HookHandle;
}

export class AttentionInterpolation implements Disposable {
  readonly stats: InterpolationStats = { frames: 0, hookCalls: 0, blends: 0 };
  /** The stored past; replaced at the start of every run (a new clip starts fresh). */
  state = new BlendState("f32");
  /** Sites of the last run, for tests and diagnostics. */
  blenders: SiteBlender[] = [];

  private constructor(readonly sd: StableDiffusion) {}

  static async load(options: { model?: string; device?: string; log?: (line: string) => void } = {}): Promise<AttentionInterpolation> {
    // the blends run as CPU kernels between UNet segments: ORT's threads must not spin meanwhile
    preferKernelsBetweenRuns();
    const sd = await StableDiffusion.load(options.model ?? "tiny-controlnet", { device: options.device, log: options.log });
    if (!sd.controlnet) {
      sd.dispose();
      throw new UsageError(`model ${options.model} has no controlnet/model.onnx: attention interpolation needs a ControlNet (try tiny-controlnet)`);
    }
    return new AttentionInterpolation(sd);
  }

  /** Output frames, each yielded before the next input frame is read. */
  async *run(frames: AsyncIterable<Frame>, options: InterpolateOptions): AsyncGenerator<Frame, void, undefined> {
    const o = { ...INTERPOLATE_DEFAULTS, ...options };
    const config: InterpolationConfig = { ...DEFAULT_INTERPOLATION, ...options.interpolation };
    checkInterpolation(config);
    this.state.dispose();
    this.state = new BlendState(config.stateDtype);
    const state = this.state;
    const unet = new SiteBlender("unet", config.unet, state);
    const controlnet = new SiteBlender("controlnet", config.controlnet, state);
    this.blenders = [unet, controlnet];
    using conditioner: Conditioner = createConditioner(o.processor, this.sd.backend, { depthModel: o.depthModel, depthNormalize: o.depthNormalize });

    // Per run: the number of steps each frame makes (img2img strength shortens it) …
    const total = this.sd.scheduler("ddim", o.steps, o.strength ?? undefined).timesteps.length;
    // … hook outputs, which stay ours until the UNet call that read them is over …
    const pending: Tensor[] = [];
    // … and, during frame 0's step 0 (never blended), the bytes of every site that will blend.
    let sizing: Map<string, { kind: string; bytes: number; model: string }> | undefined = new Map();
    const perElement = config.stateDtype === "f16" ? 2 : 4;

    // load() made sure there is a ControlNet
    const handles = [...install(this.sd.unet, unet), ...install(this.sd.controlnet!, controlnet)];
    function install(model: Hookable, blender: SiteBlender): HookHandle[] {
      const a = blender.config;
      if (!anySite(a)) return [];
      const hook: UnetHook = (tensor, ctx) => {
        const call = {
          kind: ctx.site.kind as SiteName,
          block: ctx.site.block.name,
          self: ctx.site.block.self,
          place: ctx.site.block.place.block,
          keys: ctx.tokens?.key ?? tensor.shape.at(-1)!,
          step: ctx.stepIndex ?? -1,
          total,
        };
        if (call.step < 0) throw new Error(`hook at ${ctx.site.name} got no step index: the caller must pass one to predict`);
        if (sizing && blender.accepts(call)) sizing.set(`${blender.model}/${ctx.site.name}`, { kind: call.kind, bytes: tensor.size * perElement, model: blender.model });
        const y = blender.apply(tensor, call);
        if (y) pending.push(y);
        return y;
      };
      const kinds = (probs: boolean) => (Object.keys(a.sites) as SiteName[]).filter((k) => a.sites[k] && (k === "probs") === probs);
      const base: Omit<SiteSelector, "site"> = { self: true, blocks: a.blocks };
      return [
        ...(kinds(true).length ? [model.hook({ ...base, site: "probs", maxRes: a.attentionRes }, hook)] : []),
        ...(kinds(false).length ? [model.hook({ ...base, site: kinds(false) }, hook)] : []),
      ];
    }

    const releasePending = () => {
      for (const t of pending.splice(0)) t.dispose();
    };
    let matcher: HistogramMatcher | undefined;
    let sitesReported = false;
    try {
      for await (const source of frames) {
        const width = o.width ?? source.width;
        const height = o.height ?? source.height;
        const frame = resizeFrame(source, width, height);
        if (options.onSites && !sitesReported) {
          sitesReported = true;
          const [h, w] = [height / 8, width / 8];
          options.onSites([
            { model: "unet", sites: this.sd.unet.hooks.selectedSites(h, w) },
            { model: "controlnet", sites: this.sd.controlnet!.hooks.selectedSites(h, w) },
          ]);
        }
        using control = conditioner(frame);
        const onStep = (info: StepInfo<Tensor>): Tensor | void => {
          releasePending();
          if (sizing && info.stepIndex === 0) {
            options.onEstimate?.(estimate(sizing, config, total, info.latents.size * perElement));
            sizing = undefined;
          }
          o.onStep?.(info);
          if (!blendsAt(config.pipe, info.stepIndex, total)) return;
          // latents [1, 4, h/8, w/8]: rows along the width
          const y = state.blend(`latents@${info.stepIndex}`, info.latents, emaAt(config.pipe, info.stepIndex, total), info.latents.shape.at(-1)!);
          return y;
        };
        let out: Frame;
        try {
          out = this.sd.generate({
            prompt: o.prompt,
            negativePrompt: o.negativePrompt,
            seed: o.seed,
            steps: o.steps,
            guidance: o.guidance,
            width,
            height,
            scheduler: "ddim",
            ...(o.strength === null ? {} : { image: frame, strength: o.strength }),
            control: [{ image: control.image, scale: o.conditioningScale, guessMode: o.guessMode }],
            onStep,
          });
        } finally {
          releasePending();
        }
        if (o.histNormalize !== "none") {
          if (matcher) out = matcher.match(out);
          else matcher = new HistogramMatcher(out, o.histNormalize);
        }
        if (o.originalOutputSize) out = resizeFrame(out, source.width, source.height);
        this.stats.frames++;
        yield out;
      }
    } finally {
      for (const h of handles) h.remove();
      for (const b of this.blenders) {
        this.stats.hookCalls += [...b.stats.calls.values()].reduce((s, n) => s + n, 0);
        this.stats.blends += b.stats.blends;
      }
    }
  }

  dispose(): void {
    this.state.dispose();
    this.sd.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Σ over the sites that blend and the steps they blend at of the tensor bytes, plus the latents'. */
function estimate(
  sizing: Map<string, { kind: string; bytes: number; model: string }>,
  config: InterpolationConfig,
  total: number,
  latentBytes: number,
): StateEstimate {
  const count = (s: AttentionBlendConfig | InterpolationConfig["pipe"]) => Array.from({ length: total }, (_, i) => i).filter((i) => blendsAt(s, i, total)).length;
  const steps = { unet: count(config.unet), controlnet: count(config.controlnet), latents: count(config.pipe) };
  const bySite: Record<string, number> = {};
  for (const s of sizing.values()) {
    const key = `${s.model} ${s.kind}`;
    bySite[key] = (bySite[key] ?? 0) + s.bytes * (s.model === "unet" ? steps.unet : steps.controlnet);
  }
  if (steps.latents > 0) bySite.latents = latentBytes * steps.latents;
  return { bytes: Object.values(bySite).reduce((a, b) => a + b, 0), bySite, steps };
}

export type { HookSite };
