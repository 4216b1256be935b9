import { ModelError } from "../errors.ts";
import type { Backend } from "../runtime/backend.ts";
import { cast } from "../runtime/blend-ops.ts";
import { OrtModel, type TensorInfo } from "../runtime/ort-model.ts";
import { Tensor } from "../runtime/tensor.ts";
import { sizeMultiple } from "./unet-size.ts";
import { type HookHandle, HookableModel, type HookSite, type SiteSelector, type UnetHook } from "./unet-hooks.ts";

/**
 * The denoising UNet of an SD export. Exporters disagree on the timestep (f32/f16/i64, rank 0 or
 * 1) and on the output name (sd-onnx-layout.md §2.2), so both are read from the session. Latents
 * stay f32 outside; an f16 export gets f16 copies at the boundary.
 */
export class Unet implements Disposable {
  /** Channels of `sample`: 4, or 9 for inpainting UNets. */
  readonly inChannels: number;
  /** Width of encoder_hidden_states the UNet expects (-1 if the export leaves it open). */
  readonly contextWidth: number;
  readonly dtype: "f32" | "f16";
  /** Attention hooks (unet-hooks.ts); with none registered the UNet runs as one session. */
  readonly hooks: HookableModel;
  private readonly timestep: TensorInfo;
  private readonly outputName: string;

  private constructor(readonly model: OrtModel) {
    const path = model.path;
    const sample = model.input("sample");
    const timestep = model.input("timestep");
    const context = model.input("encoder_hidden_states");
    const output = model.output("out_sample") ?? model.output("noise_pred");
    if (!sample || !timestep || !context || !output) {
      throw new ModelError(
        `${path}: expected inputs sample, timestep, encoder_hidden_states and output out_sample; ` +
          `found inputs ${model.inputs.map((i) => i.name).join(", ")} and outputs ${model.outputs.map((o) => o.name).join(", ")}`,
      );
    }
    if (sample.dtype !== "f32" && sample.dtype !== "f16") throw new ModelError(`${path}: sample is ${sample.dtype}, expected f32 or f16`);
    if (!["f32", "f16", "i64"].includes(timestep.dtype) || timestep.dims.length > 1) {
      throw new ModelError(`${path}: timestep is ${timestep.dtype} of rank ${timestep.dims.length}; expected a float or int64 scalar or 1-D tensor`);
    }
    this.dtype = sample.dtype;
    this.inChannels = sample.dims[1] && sample.dims[1] > 0 ? sample.dims[1] : 4;
    this.contextWidth = context.dims[2] ?? -1;
    this.timestep = timestep;
    this.outputName = output.name;
    this.hooks = new HookableModel(model);
  }

  /** Calls `fn` at every attention site `selector` picks, on each predict (see unet-hooks.ts). */
  hook(selector: SiteSelector, fn: UnetHook): HookHandle {
    return this.hooks.hook(selector, fn);
  }

  /** Every hookable attention site of this UNet. */
  get sites(): readonly HookSite[] {
    return this.hooks.sites;
  }

  /** Image sides must be multiples of this (unet-size.ts). */
  get sizeMultiple(): number {
    return sizeMultiple(this.hooks);
  }

  static load(path: string, backend: Backend): Unet {
    const model = OrtModel.load(path, backend);
    try {
      return new Unet(model);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** Inputs beyond sample/timestep/encoder_hidden_states (ControlNet residuals, …). */
  get extraInputs(): string[] {
    return this.model.inputs.map((i) => i.name).filter((n) => !["sample", "timestep", "encoder_hidden_states"].includes(n));
  }

  /**
   * The model's prediction for `sample` [B, C, h, w] (f32) at timestep `t` given `context`
   * [B, 77, D] (f32). `extra` feeds further inputs by name. `step` is the denoising step index
   * (hooks key their state on it). Returns a new f32 tensor [B, 4, h, w].
   */
  predict(
    sample: Tensor,
    t: number,
    context: Tensor,
    extra: Readonly<Record<string, Tensor>> = {},
    step?: { index: number },
  ): Tensor {
    const backend = sample.backend;
    const [batch = 1, , h = 0, w = 0] = sample.shape;
    using timestep = this.#timestepTensor(backend, t);
    const half = this.dtype === "f16";
    const feeds: Record<string, Tensor> = {
      sample: half ? cast(sample, "f16") : sample,
      timestep,
      encoder_hidden_states: half ? cast(context, "f16") : context,
      ...extra,
    };
    const out = Tensor.empty(backend, this.dtype, [batch, 4, h, w]);
    try {
      this.hooks.run(feeds, { [this.outputName]: out }, step);
    } finally {
      if (half) {
        feeds.sample!.dispose();
        feeds.encoder_hidden_states!.dispose();
      }
    }
    if (!half) return out;
    using h16 = out;
    return cast(h16, "f32");
  }

  #timestepTensor(backend: Backend, t: number): Tensor {
    const shape = this.timestep.dims.length === 0 ? [] : [1];
    switch (this.timestep.dtype) {
      case "i64":
        // int64 exports need integer timesteps; Euler's fractional ones are truncated as diffusers does
        return Tensor.from(backend, "i64", shape, BigInt64Array.of(BigInt(Math.trunc(t))));
      case "f16":
        return Tensor.from(backend, "f16", shape, new Uint16Array(Float16Array.of(t).buffer));
      default:
        return Tensor.from(backend, "f32", shape, Float32Array.of(t));
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
