/**
 * Temporally consistent video-to-video with ControlNet: each frame's self-attention and latents
 * are blended with the previous frame's at the same denoising step (attention interpolation).
 *
 *   bun run recipes/attention-interp.ts                       # synthetic clip → out/attention-interp.mp4
 *   bun run recipes/attention-interp.ts --input in.mp4 --prompt "an oil painting" --unet-ema 0.5
 *   ffmpeg -i in.mp4 -f yuv4mpegpipe - | bun run recipes/attention-interp.ts --out - | ffmpeg -i - out.mp4
 *
 * With no --input, frames come from stdin when it is a pipe or a file, else from a built-in clip.
 */
import { fstatSync } from "node:fs";
import { defineSchema, field, runRecipe } from "../pipelines/cli/index.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { openFrameSource } from "../pipelines/io/frame-source.ts";
import { createProgress } from "../pipelines/io/progress.ts";
import {
  AttentionInterpolation, CONTROL_PROCESSORS, HIST_MODES, INTERPOLATION_SCHEDULERS, PLACES, STATE_DTYPES,
  syntheticClip, syntheticClipMeta, type AttentionBlendConfig, type BlendSchedule,
} from "../pipelines/attention-interpolation/index.ts";

const unit = (description: string, d: number) => field.number({ description, default: d, min: 0, max: 1 });
const step = (description: string, d: number | null) => field.number({ description, default: d, nullable: true, integer: true, min: 0 });
const flag = (description: string, d: boolean) => field.boolean({ description, default: d });
const scheduler = field.enum(INTERPOLATION_SCHEDULERS, { description: "how ema decays over the steps", default: "ema" });
const schema = defineSchema({
  prompt: field.string({ description: "what every frame should look like", default: "a colourful oil painting of geometric shapes, thick brush strokes" }),
  negative_prompt: field.string({ description: "what to steer away from", default: "lowres, worst quality, low quality" }),
  seed: field.number({ description: "the same noise for every frame", default: 17, integer: true, min: 0 }),
  size: field.size({ description: "generation size WxH (null: the input's)", default: "256x256", nullable: true, step: 8 }),
  num_inference_steps: field.number({ description: "DDIM steps per frame", default: 8, integer: true, min: 2, max: 1000 }),
  guidance_scale: field.number({ description: "classifier-free guidance; ≤ 1 turns it off", default: 7.5, min: 0, max: 100 }),
  guess_mode: flag("ControlNet sees only the conditional half, residuals × logspace(−1, 0)", true),
  conditioning_scale: field.number({ description: "ControlNet residual scale", default: 1, min: 0, max: 10 }),
  controlnet_processor: field.enum(CONTROL_PROCESSORS, { description: "condition image", default: "canny" }),
  depth_model: field.string({ description: "ONNX depth model for controlnet_processor depth", default: null, nullable: true }),
  depth_normalize: field.enum(["frame", "clip"], { description: "depth scale: per frame (the reference) or a running max over the clip", default: "frame" }),
  hist_normalize: field.enum(HIST_MODES, { description: "match every frame's colours to frame 0", default: "lab" }),
  original_output_size: flag("write frames at the input's size", true),
  strength: field.number({ description: "img2img from each frame with this strength (null: text-to-image)", default: null, nullable: true, min: 0.01, max: 1 }),
  state_dtype: field.enum(STATE_DTYPES, { description: "dtype of the stored past (f16 halves its memory)", default: "f32" }),
  pipe_scheduler: scheduler, pipe_ema: unit("latents: weight of the past", 0.35), pipe_eta: unit("latents: ema decay per step", 0.75),
  pipe_start: step("latents: blend after this step", 0), pipe_end: step("latents: … and before this one (null: all)", null), pipe_const: step("latents: steps before the decay", 0),
  unet_scheduler: scheduler, unet_ema: unit("UNet: weight of the past", 0.625), unet_eta: unit("UNet: ema decay per step", 0.875),
  unet_start: step("UNet: blend after this step", 0), unet_end: step("UNet: … and before this one (null: all)", null), unet_const: step("UNet: steps before the decay", 0),
  unet_query: flag("UNet: blend q", false), unet_key: flag("UNet: blend k", false), unet_value: flag("UNet: blend v", false),
  unet_attention_probs: flag("UNet: blend attention probabilities", true), unet_out_linear: flag("UNet: blend the attention output", true),
  unet_attention_res: field.number({ description: "UNet: probs only where keys ≤ res²", default: 32, integer: true, min: 1 }),
  unet_allow_names: field.strings({ description: "UNet parts that blend", default: ["down", "mid", "up"], choices: PLACES }),
  controlnet_scheduler: scheduler, controlnet_ema: unit("ControlNet: weight of the past", 0.625), controlnet_eta: unit("ControlNet: ema decay per step", 0.875),
  controlnet_start: step("ControlNet: blend after this step", 0), controlnet_end: step("ControlNet: … and before this one (null: all)", null), controlnet_const: step("ControlNet: steps before the decay", 0),
  controlnet_query: flag("ControlNet: blend q", false), controlnet_key: flag("ControlNet: blend k", false), controlnet_value: flag("ControlNet: blend v", false),
  controlnet_attention_probs: flag("ControlNet: blend attention probabilities", false), controlnet_out_linear: flag("ControlNet: blend the attention output", false),
  controlnet_attention_res: field.number({ description: "ControlNet: probs only where keys ≤ res²", default: 32, integer: true, min: 1 }),
  controlnet_allow_names: field.strings({ description: "ControlNet parts that blend", default: ["down", "mid"], choices: PLACES }),
  frames: field.number({ description: "length of the built-in clip", default: 12, integer: true, min: 1 }),
  model: field.string({ description: "tiny-controlnet (built in, untrained) or an SD export folder with controlnet/", default: "tiny-controlnet" }),
  device: field.string({ description: "cpu, cuda, cuda:N or auto", default: "cpu" }),
  input: field.string({ description: "video, y4m, PNG folder, or - for stdin (default: stdin if piped, else a built-in clip)", default: null, nullable: true }),
  out: field.string({ description: "file (.mp4 .y4m …), folder/, or - for y4m on stdout", default: "out/attention-interp.mp4" }),
});

type Config = Record<string, unknown>;
const schedule = (c: Config, p: string): BlendSchedule => ({
  ema: c[`${p}_ema`] as number, eta: c[`${p}_eta`] as number, start: c[`${p}_start`] as number ?? 0,
  end: c[`${p}_end`] as number | null, constSteps: c[`${p}_const`] as number ?? 0, scheduler: c[`${p}_scheduler`] as BlendSchedule["scheduler"],
});
const attention = (c: Config, p: string): AttentionBlendConfig => ({
  ...schedule(c, p),
  sites: { q: !!c[`${p}_query`], k: !!c[`${p}_key`], v: !!c[`${p}_value`], probs: !!c[`${p}_attention_probs`], out: !!c[`${p}_out_linear`] },
  attentionRes: c[`${p}_attention_res`] as number,
  blocks: c[`${p}_allow_names`] as AttentionBlendConfig["blocks"],
});
const stdinHasFrames = () => { try { const s = fstatSync(0); return s.isFIFO() || (s.isFile() && s.size > 0); } catch { return false; } };

await runRecipe({ recipe: "attention-interp", schema, description: "Video-to-video with ControlNet and attention interpolation." }, async ({ config: c, log, quiet, interrupted }) => {
  const input = c.input ?? (stdinHasFrames() ? "-" : null);
  const source = input === null ? { meta: syntheticClipMeta({ frames: c.frames }), frames: syntheticClip({ frames: c.frames }) } : await openFrameSource(input);
  if (input === null) log(`no input: a built-in ${c.frames}-frame clip of moving shapes, ${source.meta.width}x${source.meta.height}`);
  using ai = await AttentionInterpolation.load({ model: c.model, device: c.device, log });
  const size = c.size ?? { width: source.meta.width, height: source.meta.height };
  log(`attention-interp: ${c.model} on ${ai.sd.backend.description}, ${c.controlnet_processor} ControlNet, ${c.num_inference_steps} DDIM steps at ${size.width}x${size.height}${c.strength === null ? "" : `, img2img strength ${c.strength}`}`);

  const meta = c.original_output_size ? source.meta : { ...source.meta, ...size };
  await using out = openFrameSink(c.out, meta);
  const steps = createProgress({ label: "attention-interp steps", quiet });
  const frames = ai.run(source.frames, {
    prompt: c.prompt, negativePrompt: c.negative_prompt, seed: c.seed, steps: c.num_inference_steps, guidance: c.guidance_scale,
    width: size.width, height: size.height, guessMode: c.guess_mode, conditioningScale: c.conditioning_scale,
    processor: c.controlnet_processor, depthModel: c.depth_model, depthNormalize: c.depth_normalize, histNormalize: c.hist_normalize, originalOutputSize: c.original_output_size, strength: c.strength,
    interpolation: { pipe: schedule(c, "pipe"), unet: attention(c, "unet"), controlnet: attention(c, "controlnet"), stateDtype: c.state_dtype },
    onStep: () => steps.tick(),
    onEstimate: (e) => log(`state memory estimate: ${(e.bytes / 2 ** 20).toFixed(2)} MiB (${c.state_dtype}; ${Object.entries(e.bySite).map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(2)}`).join(", ")}) over ${e.steps.unet} UNet / ${e.steps.latents} latent steps`),
  });
  for await (const frame of frames) {
    await out.write(frame);
    if (interrupted()) break;
  }
  steps.done();
  log(`${ai.stats.frames} frames; ${ai.stats.blends} of ${ai.stats.hookCalls} hook calls blended; state ${(ai.state.bytes / 2 ** 20).toFixed(2)} MiB in ${ai.state.count} slots`);
  if (c.out !== "-") log(`wrote ${c.out}`);
});
