/**
 * The command-line face of recipes/attention-interp.ts: the reference's pipe/unet/controlnet
 * configs flattened into `<part>_<key>` keys, defaults from the job, typed options.
 */
import {
  type AttentionBlendConfig, type BlendSchedule, CONTROL_PROCESSORS, DEFAULT_CONTROLNET_CONFIG, DEFAULT_INTERPOLATION, DEFAULT_PIPE_SCHEDULE, DEFAULT_UNET_CONFIG,
  HIST_MODES, INTERPOLATE_DEFAULTS, type InterpolateOptions, INTERPOLATION_SCHEDULERS, PLACES, STATE_DTYPES, SYNTHETIC_CLIP_DEFAULTS,
} from "../../attention-interpolation/index.ts";
import { defineRecipe } from "../run-recipe.ts";
import { defineSchema, field, type InferConfig } from "../schema.ts";
import { key } from "../vocabulary.ts";

const d = INTERPOLATE_DEFAULTS;
const unit = (description: string, value: number) => field.number({ description, default: value, min: 0, max: 1 });
const step = (description: string, value: number | null) => field.number({ description, default: value, nullable: true, integer: true, min: 0 });
const flag = (description: string, value: boolean) => field.boolean({ description, default: value });
const scheduler = (value: BlendSchedule["scheduler"]) => field.enum(INTERPOLATION_SCHEDULERS, { description: "how ema decays over the steps", default: value });
const P = DEFAULT_PIPE_SCHEDULE, U = DEFAULT_UNET_CONFIG, C = DEFAULT_CONTROLNET_CONFIG;

const schema = defineSchema({
  prompt: key.prompt("a colourful oil painting of geometric shapes, thick brush strokes", "what every frame should look like"),
  negative_prompt: key.negative_prompt(d.negativePrompt),
  seed: key.seed(d.seed, "the same noise for every frame"),
  size: key.sizeOrInput("256x256"),
  steps: key.steps(d.steps, "DDIM steps per frame", 2),
  guidance: key.guidance(d.guidance),
  guess_mode: flag("ControlNet sees only the conditional half, residuals × logspace(−1, 0)", d.guessMode),
  conditioning_scale: field.number({ description: "ControlNet residual scale", default: d.conditioningScale, min: 0, max: 10 }),
  controlnet_processor: field.enum(CONTROL_PROCESSORS, { description: "condition image", default: d.processor }),
  depth_model: field.string({ description: "ONNX depth model for controlnet_processor depth", default: null, nullable: true }),
  depth_normalize: field.enum(["frame", "clip"], { description: "depth scale: per frame (the reference) or a running max over the clip", default: d.depthNormalize }),
  hist_normalize: field.enum(HIST_MODES, { description: "match every frame's colours to frame 0", default: d.histNormalize }),
  original_output_size: flag("write frames at the input's size", d.originalOutputSize),
  strength: field.number({ description: "img2img from each frame with this strength (none: text-to-image)", default: d.strength, nullable: true, min: 0.01, max: 1 }),
  state_dtype: field.enum(STATE_DTYPES, { description: "dtype of the stored past (f16 halves its memory)", default: DEFAULT_INTERPOLATION.stateDtype }),
  pipe_scheduler: scheduler(P.scheduler), pipe_ema: unit("latents: weight of the past", P.ema), pipe_eta: unit("latents: ema decay per step", P.eta),
  pipe_start: step("latents: blend after this step", P.start), pipe_end: step("latents: … and before this one (none: all)", P.end),
  pipe_const: step("latents: steps before the decay", P.constSteps),
  unet_scheduler: scheduler(U.scheduler), unet_ema: unit("UNet: weight of the past", U.ema), unet_eta: unit("UNet: ema decay per step", U.eta),
  unet_start: step("UNet: blend after this step", U.start), unet_end: step("UNet: … and before this one (none: all)", U.end),
  unet_const: step("UNet: steps before the decay", U.constSteps),
  unet_query: flag("UNet: blend q", U.sites.q), unet_key: flag("UNet: blend k", U.sites.k), unet_value: flag("UNet: blend v", U.sites.v),
  unet_attention_probs: flag("UNet: blend attention probabilities", U.sites.probs), unet_out_linear: flag("UNet: blend the attention output", U.sites.out),
  unet_attention_res: field.number({ description: "UNet: probs only where keys ≤ res²", default: U.attentionRes, integer: true, min: 1 }),
  unet_allow_names: field.strings({ description: "UNet parts that blend", default: U.blocks, choices: PLACES }),
  controlnet_scheduler: scheduler(C.scheduler), controlnet_ema: unit("ControlNet: weight of the past", C.ema),
  controlnet_eta: unit("ControlNet: ema decay per step", C.eta),
  controlnet_start: step("ControlNet: blend after this step", C.start), controlnet_end: step("ControlNet: … and before this one (none: all)", C.end),
  controlnet_const: step("ControlNet: steps before the decay", C.constSteps),
  controlnet_query: flag("ControlNet: blend q", C.sites.q), controlnet_key: flag("ControlNet: blend k", C.sites.k),
  controlnet_value: flag("ControlNet: blend v", C.sites.v), controlnet_attention_probs: flag("ControlNet: blend attention probabilities", C.sites.probs),
  controlnet_out_linear: flag("ControlNet: blend the attention output", C.sites.out),
  controlnet_attention_res: field.number({ description: "ControlNet: probs only where keys ≤ res²", default: C.attentionRes, integer: true, min: 1 }),
  controlnet_allow_names: field.strings({ description: "ControlNet parts that blend", default: C.blocks, choices: PLACES }),
  frames: field.number({ description: "length of the built-in clip", default: SYNTHETIC_CLIP_DEFAULTS.frames, integer: true, min: 1 }),
  model: key.model("tiny-controlnet"),
  device: key.device(),
  input: key.optionalInput("video, y4m, PNG folder, or - for stdin (none: stdin if piped, else a built-in clip)"),
  out: key.out("out/attention-interp.mp4"),
});

type Config = InferConfig<typeof schema>;

const schedule = (c: Config, p: "pipe" | "unet" | "controlnet"): BlendSchedule => ({
  ema: c[`${p}_ema`], eta: c[`${p}_eta`], start: c[`${p}_start`] ?? 0, end: c[`${p}_end`], constSteps: c[`${p}_const`] ?? 0, scheduler: c[`${p}_scheduler`],
});

const attention = (c: Config, p: "unet" | "controlnet"): AttentionBlendConfig => ({
  ...schedule(c, p),
  sites: { q: c[`${p}_query`], k: c[`${p}_key`], v: c[`${p}_value`], probs: c[`${p}_attention_probs`], out: c[`${p}_out_linear`] },
  attentionRes: c[`${p}_attention_res`],
  blocks: c[`${p}_allow_names`],
});

export const attentionInterp = defineRecipe({
  recipe: "attention-interp",
  description: "Video-to-video with ControlNet and attention interpolation.",
  schema,
  options: (c): InterpolateOptions => ({
    prompt: c.prompt, negativePrompt: c.negative_prompt, seed: c.seed, steps: c.steps, guidance: c.guidance,
    ...c.size, guessMode: c.guess_mode, conditioningScale: c.conditioning_scale,
    processor: c.controlnet_processor, depthModel: c.depth_model, depthNormalize: c.depth_normalize, histNormalize: c.hist_normalize,
    originalOutputSize: c.original_output_size, strength: c.strength,
    interpolation: { pipe: schedule(c, "pipe"), unet: attention(c, "unet"), controlnet: attention(c, "controlnet"), stateDtype: c.state_dtype },
  }),
});
