/**
 * The command-line face of recipes/fifo.ts: FIFO-Diffusion's queue (video_length, partitions,
 * lookahead: the reference's spellings), the YCmove fork's tricks, prompt schedules and resuming.
 * `fps` is the output's frame rate, as in every recipe; the rate the UNet is told is `model_fps`.
 */
import { FIFO_DEFAULTS, type FifoOptions, Q_CACHE_ATTNS } from "../../fifo/index.ts";
import { checkpointBeside } from "../resume.ts";
import { defineRecipe } from "../run-recipe.ts";
import { defineSchema, field } from "../schema.ts";
import { DEFAULT_PROMPT, key } from "../vocabulary.ts";

const d = FIFO_DEFAULTS;
const count = (description: string, value: number, min = 1, max = 10_000) => field.number({ description, default: value, integer: true, min, max });
const flag = (description: string, value: boolean) => field.boolean({ description, default: value });

const schema = defineSchema({
  prompt: key.prompt(DEFAULT_PROMPT, "what the video shows"),
  prompts: field.strings({ description: "a prompt schedule instead: one prompt per event, in order", default: null, nullable: true, minItems: 1 }),
  prompt_frames: field.numbers({
    description: "frames of each scheduled prompt but the last (which runs to the end)", default: null, nullable: true, integer: true, min: 1,
  }),
  prompt_blend: count("frames over which one scheduled prompt blends into the next", d.promptBlend, 0),
  negative_prompt: key.negative_prompt(d.negativePrompt),
  seed: key.seed(d.seed),
  guidance: key.guidance(d.guidance),
  eta: field.number({ description: "DDIM η: 0 deterministic, 1 the reference's stochastic steps", default: d.eta, min: 0, max: 1 }),
  video_length: count("f: frames the video UNet sees at once", d.videoLength, 2, 256),
  partitions: count("n: windows in the queue (f·n denoising steps)", d.partitions, 1, 64),
  lookahead: flag("lookahead denoising: windows overlap by f/2 (--no-lookahead: twice as fast, less smooth)", d.lookahead),
  frames: count("output frames, however many (memory does not grow with them)", d.frames, 1, 100_000_000),
  size: key.size(`${d.width}x${d.height}`, "frame size, width x height"),
  fps: count("frames per second of the output", d.outputFps, 1, 240),
  model_fps: count("the frame rate the video UNet is conditioned on (VideoCrafter 2: 8)", d.fps, 1, 240),
  q_cache: field.number({ description: "Q-cache weight: decoder temporal queries ← (1−w)·q + w·encoder's (none: off)", default: d.qCache, nullable: true, min: 0, max: 1 }),
  q_cache_attn: field.enum(Q_CACHE_ATTNS, { description: "which temporal attention the Q-cache replaces", default: d.qCacheAttn }),
  seed_frame: flag("condition the run on its own first frame as an image embedding (needs an image-conditioned UNet)", d.seedFrame),
  uniform_latents: flag("start the queue from every base frame n times (the fork's unilatent)", d.uniformLatents),
  image: field.string({ description: "image-to-video: a PNG every window is conditioned on", default: null, nullable: true }),
  window_batch: field.number({ description: "windows per UNet call (none: all of a step's windows in one batched call)", default: d.windowBatch, nullable: true, integer: true, min: 1 }),
  checkpoint: field.string({ description: "where the queue is saved (none: beside --out as OUT.fifo-queue; never with --out -)", default: null, nullable: true }),
  checkpoint_every: count("save the queue every k output frames (0: never)", d.checkpointEvery, 0),
  resume: flag("continue a stopped run from its checkpoint: the remaining frames, byte for byte as the whole run makes them", false),
  model: field.string({ description: "`tiny-video` (built-in, untrained) or a video export folder (docs/video-models.md)", default: "tiny-video" }),
  device: key.device(),
  out: key.out("out/fifo.mp4"),
});

export const fifo = defineRecipe({
  recipe: "fifo",
  description: "Video of any length from a video UNet, in constant memory (FIFO-Diffusion), streamed and resumable.",
  schema,
  options: (c): Omit<FifoOptions, "image"> => ({
    prompt: c.prompt, prompts: c.prompts, promptFrames: c.prompt_frames ?? [], promptBlend: c.prompt_blend,
    negativePrompt: c.negative_prompt, seed: c.seed, guidance: c.guidance, eta: c.eta,
    videoLength: c.video_length, partitions: c.partitions, lookahead: c.lookahead, frames: c.frames,
    width: c.size.width, height: c.size.height, fps: c.model_fps,
    qCache: c.q_cache, qCacheAttn: c.q_cache_attn, seedFrame: c.seed_frame, uniformLatents: c.uniform_latents,
    windowBatch: c.window_batch, checkpoint: checkpointBeside(c, "fifo-queue"), checkpointEvery: c.checkpoint_every, resume: c.resume,
  }),
});
