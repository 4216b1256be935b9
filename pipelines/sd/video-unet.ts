/**
 * The denoising UNet of a video export (docs/video-models.md): `sample` [B, 4, T, h, w] with one
 * timestep per frame, the way FIFO-Diffusion needs it.
 *
 *   using unet = VideoUnet.load(`${dir}/unet/model.onnx`, backend);
 *   using eps = unet.predict(latents, [999, 980, 960, 940], context, { fps: 8 });   // B = 1, T = 4
 *
 * What the export takes is read from the session: the timestep layout ([B·T] as VideoCrafter, or
 * [B, T]), whether there is an `fps` input and an `image_embeds` input (VideoCrafter's i2v tokens;
 * zeros are fed when the caller has none). An export whose timestep is one per clip (a scalar, or
 * [batch_size] like sample's batch axis) cannot run FIFO: loading it is a ModelError that names the
 * input it lacks. VideoCrafter's own names (`x`, `timesteps`, `context`) are accepted as well.
 */
import { ModelError } from "../errors.ts";
import type { Backend } from "../runtime/backend.ts";
import { cast } from "../runtime/blend-ops.ts";
import { OrtModel, type TensorInfo } from "../runtime/ort-model.ts";
import { Tensor } from "../runtime/tensor.ts";
import { type HookHandle, HookableModel, type HookSite, type SiteSelector, type UnetHook } from "./unet-hooks.ts";

/** "frames": timestep [B·T], row order (b, t); "grid": [B, T]. */
export type TimestepLayout = "frames" | "grid";

const NAMES = {
  sample: ["sample", "x"],
  timestep: ["timestep", "timesteps", "t"],
  context: ["encoder_hidden_states", "context"],
  fps: ["fps"],
  image: ["image_embeds", "image_embeddings"],
  output: ["out_sample", "noise_pred", "eps", "out"],
} as const;

/** Image tokens fed as zeros when an export leaves their count open (VideoCrafter's Resampler makes 16). */
const DEFAULT_IMAGE_TOKENS = 16;

export interface VideoPredictOptions {
  /** The fps the clip is conditioned on (VideoCrafter 2: 8); default the model's `default_fps` or 8. */
  readonly fps?: number;
  /** Image tokens [B, N, D] for the image branch; default zeros (no image). */
  readonly imageEmbeds?: Tensor;
  /** Hooks see this as ctx.stepIndex. */
  readonly step?: { index: number };
}

export class VideoUnet implements Disposable {
  readonly dtype: "f32" | "f16";
  readonly timestepLayout: TimestepLayout;
  /** Width of the text (and image) tokens; -1 if the export leaves it open. */
  readonly contextWidth: number;
  readonly hasFps: boolean;
  readonly hasImageEmbeds: boolean;
  /** Image tokens the export expects (its fixed size, else 16). */
  readonly imageTokens: number;
  readonly hooks: HookableModel;
  readonly #names: { sample: string; timestep: string; context: string; fps?: string; image?: string; output: string };
  readonly #timestep: TensorInfo;
  readonly #fps?: TensorInfo;

  private constructor(readonly model: OrtModel) {
    const path = model.path;
    const find = (names: readonly string[], side: "input" | "output") => names.map((n) => (side === "input" ? model.input(n) : model.output(n))).find((i) => i !== undefined);
    const sample = find(NAMES.sample, "input");
    const timestep = find(NAMES.timestep, "input");
    const context = find(NAMES.context, "input");
    const output = find(NAMES.output, "output");
    const found = `found inputs ${model.inputs.map(describe).join(", ")}`;
    if (!timestep) {
      throw new ModelError(`${path} has no timestep input: a video UNet takes timestep [batch·frames] or [batch, frames], one per frame; ${found}`, HINT);
    }
    if (!sample || !context || !output) {
      throw new ModelError(`${path}: expected inputs sample, timestep, encoder_hidden_states and output out_sample; ${found}`, HINT);
    }
    this.timestepLayout = timestepLayout(path, timestep, sample);
    if (sample.dims.length !== 5) {
      throw new ModelError(`${path}: input ${describe(sample)} is not a video latent; a video UNet takes ${sample.name} [batch, 4, frames, height, width]`, HINT);
    }
    if (sample.dtype !== "f32" && sample.dtype !== "f16") throw new ModelError(`${path}: ${sample.name} is ${sample.dtype}, expected f32 or f16`);
    if (!["i64", "i32", "f32", "f16"].includes(timestep.dtype)) throw new ModelError(`${path}: ${timestep.name} is ${timestep.dtype}, expected int64, int32 or float`);
    const fps = find(NAMES.fps, "input");
    if (fps && (!["i64", "i32", "f32"].includes(fps.dtype) || fps.dims.length !== 1)) {
      throw new ModelError(`${path}: ${describe(fps)} should be [batch_size] int64`);
    }
    const image = find(NAMES.image, "input");
    if (image && image.dims.length !== 3) throw new ModelError(`${path}: ${describe(image)} should be [batch_size, image_tokens, width]`);
    this.dtype = sample.dtype;
    this.contextWidth = context.dims[2] ?? -1;
    this.hasFps = fps !== undefined;
    this.hasImageEmbeds = image !== undefined;
    this.imageTokens = image && image.dims[1]! > 0 ? image.dims[1]! : DEFAULT_IMAGE_TOKENS;
    this.#timestep = timestep;
    this.#fps = fps;
    this.#names = { sample: sample.name, timestep: timestep.name, context: context.name, fps: fps?.name, image: image?.name, output: output.name };
    const names = this.#names;
    this.hooks = new HookableModel(model, {
      latentSize: (feeds) => {
        const shape = feeds[names.sample]!.shape;
        return { height: shape[3]!, width: shape[4]! };
      },
      contextTokens: (feeds) => feeds[names.context]!.shape[1]!,
    });
  }

  static load(path: string, backend: Backend): VideoUnet {
    const model = OrtModel.load(path, backend);
    try {
      return new VideoUnet(model);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** Calls `fn` at every attention site `selector` picks, on each predict (see unet-hooks.ts). */
  hook(selector: SiteSelector, fn: UnetHook): HookHandle {
    return this.hooks.hook(selector, fn);
  }

  get sites(): readonly HookSite[] {
    return this.hooks.sites;
  }

  /**
   * ε for `sample` [B, 4, T, h, w] (f32), `timesteps` one per (clip, frame) in row order (b, t),
   * `context` [B, S, D] (f32). Returns a new f32 tensor shaped like `sample`.
   */
  predict(sample: Tensor, timesteps: readonly number[], context: Tensor, options: VideoPredictOptions = {}): Tensor {
    const [batch = 0, , frames = 0] = sample.shape;
    if (sample.shape.length !== 5) throw new RangeError(`video UNet sample must be [B, 4, T, h, w], got [${sample.shape}]`);
    if (timesteps.length !== batch * frames) throw new RangeError(`${timesteps.length} timesteps for ${batch} clips of ${frames} frames`);
    if (context.shape[0] !== batch) throw new RangeError(`context has ${context.shape[0]} rows for ${batch} clips`);
    const backend = sample.backend;
    const half = this.dtype === "f16";
    const owned: Tensor[] = [];
    const float = (t: Tensor) => {
      if (!half) return t;
      const h = cast(t, "f16");
      owned.push(h);
      return h;
    };
    const n = this.#names;
    const feeds: Record<string, Tensor> = {
      [n.sample]: float(sample),
      [n.context]: float(context),
    };
    owned.push((feeds[n.timestep] = this.#timestepTensor(backend, timesteps, batch, frames)));
    if (n.fps) owned.push((feeds[n.fps] = this.#fpsTensor(backend, options.fps ?? 8, batch)));
    if (n.image) {
      const given = options.imageEmbeds;
      if (given && given.shape[0] !== batch) throw new RangeError(`image embeddings have ${given.shape[0]} rows for ${batch} clips`);
      const width = context.shape[2]!;
      const image = given ?? Tensor.empty(backend, "f32", [batch, this.imageTokens, width]);
      if (!given) owned.push(image);
      feeds[n.image] = float(image);
    }
    const out = Tensor.empty(backend, this.dtype, sample.shape);
    try {
      this.hooks.run(feeds, { [n.output]: out }, options.step);
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      for (const t of owned) t.dispose();
    }
    if (!half) return out;
    using h16 = out;
    return cast(h16, "f32");
  }

  #timestepTensor(backend: Backend, timesteps: readonly number[], batch: number, frames: number): Tensor {
    const shape = this.timestepLayout === "grid" ? [batch, frames] : [batch * frames];
    switch (this.#timestep.dtype) {
      case "i64":
        return Tensor.from(backend, "i64", shape, BigInt64Array.from(timesteps, (t) => BigInt(Math.trunc(t))));
      case "i32":
        return Tensor.from(backend, "i32", shape, Int32Array.from(timesteps, Math.trunc));
      case "f16":
        return Tensor.from(backend, "f16", shape, new Uint16Array(Float16Array.from(timesteps).buffer));
      default:
        return Tensor.from(backend, "f32", shape, Float32Array.from(timesteps));
    }
  }

  #fpsTensor(backend: Backend, fps: number, batch: number): Tensor {
    const values = Array.from({ length: batch }, () => fps);
    switch (this.#fps!.dtype) {
      case "i64":
        return Tensor.from(backend, "i64", [batch], BigInt64Array.from(values, (v) => BigInt(Math.round(v))));
      case "i32":
        return Tensor.from(backend, "i32", [batch], Int32Array.from(values, Math.round));
      default:
        return Tensor.from(backend, "f32", [batch], Float32Array.from(values));
    }
  }

  dispose(): void {
    this.hooks.dispose();
    this.model.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

const HINT = "docs/video-models.md describes the video UNet layout; --model tiny-video is the built-in one";

function describe(info: TensorInfo): string {
  const dims = info.dims.map((d, i) => (d >= 0 ? String(d) : info.dimNames[i] || "?"));
  return `${info.name} ${info.dtype} [${dims.join(", ")}]`;
}

/**
 * Per-frame timesteps, from the input's shape: rank 2 is [B, T]; rank 1 is [B·T] unless its axis is
 * sample's batch axis (same symbolic name, or the same fixed size when the clip has more than one
 * frame); rank 0, or one per clip, is a ModelError naming the input FIFO needs.
 */
function timestepLayout(path: string, timestep: TensorInfo, sample: TensorInfo): TimestepLayout {
  const refuse = (why: string) =>
    new ModelError(
      `${path} has no per-frame timestep input: ${describe(timestep)} ${why}; FIFO needs ${timestep.name} [batch·frames] or [batch, frames], ` +
        `one timestep per frame (sample ${describe(sample)})`,
      HINT,
    );
  if (timestep.dims.length === 2) return "grid";
  if (timestep.dims.length === 0) throw refuse("is one scalar for the whole call");
  if (timestep.dims.length !== 1) throw refuse(`has rank ${timestep.dims.length}`);
  const [axis] = timestep.dims;
  const [axisName] = timestep.dimNames;
  const batchName = sample.dimNames[0] ?? "";
  if (axisName && axisName === batchName) throw refuse(`has one timestep per clip (its axis is sample's ${batchName})`);
  const [b = -1, , t = -1] = sample.dims;
  if (axis! > 0 && b > 0 && t > 1 && axis === b) throw refuse(`has one timestep per clip (${axis} = sample's batch)`);
  return "frames";
}
