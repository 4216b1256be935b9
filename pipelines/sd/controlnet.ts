/**
 * A separate ControlNet export (reference/sd-onnx-layout.md §4.2) and how its residuals reach a
 * residual-taking UNet during denoising.
 *
 *   using cn = ControlNet.load(`${dir}/controlnet/model.onnx`, backend);
 *   const frame = sd.generate({ prompt, control: [{ image: edgesFrame, model: cn, scale: 0.8 }] });
 *
 * Outputs are addressed by position (exporters name only the first two): all but the last are
 * the down-block residuals, the last is the mid-block one. Residuals leave here as f32, already
 * multiplied by the conditioning scale (and, in guess mode, by logspace(−1, 0, N)).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ModelError } from "../errors.ts";
import type { Backend } from "../runtime/backend.ts";
import { cast, scale as scaleOp } from "../runtime/blend-ops.ts";
import { OrtModel, type TensorInfo } from "../runtime/ort-model.ts";
import { type HookHandle, HookableModel, type HookSite, type SiteSelector, type UnetHook } from "./unet-hooks.ts";
import { Tensor } from "../runtime/tensor.ts";

/** logspace(−1, 0, n): the guess-mode weights, 0.1 for the first residual up to 1 for the mid one. */
export function guessModeScales(n: number): number[] {
  if (n === 1) return [1];
  return Array.from({ length: n }, (_, i) => 10 ** (-1 + i / (n - 1)));
}

/** Channels and spatial divisor (of the latent size) of each residual, down ones then mid. */
export interface ResidualLayout {
  channels: number[];
  factors: number[];
}

/**
 * The residual layout a diffusers ControlNetModel config implies: conv_in's features, then per
 * down block `layers_per_block` resnet outputs and (all but the last block) a downsampler's, then
 * the mid block. For SD 1.5 this is the 12 + 1 table of sd-onnx-layout.md §4.
 */
export function residualLayoutFromConfig(config: { block_out_channels: number[]; layers_per_block: number }): ResidualLayout {
  const blocks = config.block_out_channels;
  const channels = [blocks[0]!], factors = [1];
  blocks.forEach((c, k) => {
    for (let l = 0; l < config.layers_per_block; l++) {
      channels.push(c);
      factors.push(2 ** k);
    }
    if (k < blocks.length - 1) {
      channels.push(c);
      factors.push(2 ** (k + 1));
    }
  });
  channels.push(blocks.at(-1)!);
  factors.push(2 ** (blocks.length - 1));
  return { channels, factors };
}

/** `height`, `width4`, `h8`… → the divisor; other names and unknown dims → undefined. */
function dimFactor(dim: string | undefined): number | undefined {
  if (!dim) return undefined;
  const m = /^(?:height|width|h|w)(\d*)$/i.exec(dim);
  return m ? Number(m[1] || 1) : undefined;
}

export class ControlNet implements Disposable {
  /** Residuals the export returns: down ones, then the mid one. */
  readonly residualCount: number;
  readonly dtype: "f32" | "f16";
  /** Whether the export takes the scale as an input (`conditioning_scale`) rather than leaving it to us. */
  readonly hasScaleInput: boolean;
  private readonly timestep: TensorInfo;
  private readonly config: ResidualLayout | undefined;

  /** Attention hooks, as on the UNet (unet-hooks.ts); with none the ControlNet runs as one session. */
  readonly hooks: HookableModel;

  private constructor(readonly model: OrtModel) {
    this.hooks = new HookableModel(model);
    const path = model.path;
    const names = ["sample", "timestep", "encoder_hidden_states", "controlnet_cond"];
    const missing = names.filter((n) => !model.input(n));
    if (missing.length || model.outputs.length < 2) {
      throw new ModelError(
        `${path}: a ControlNet needs inputs ${names.join(", ")} and at least 2 outputs; ` +
          `found inputs ${model.inputs.map((i) => i.name).join(", ")} and ${model.outputs.length} outputs`,
      );
    }
    const sample = model.input("sample")!;
    if (sample.dtype !== "f32" && sample.dtype !== "f16") throw new ModelError(`${path}: sample is ${sample.dtype}, expected f32 or f16`);
    const timestep = model.input("timestep")!;
    if (!["f32", "f16", "i64"].includes(timestep.dtype) || timestep.dims.length > 1) {
      throw new ModelError(`${path}: timestep is ${timestep.dtype} of rank ${timestep.dims.length}; expected a float or int64 scalar or 1-D tensor`);
    }
    const scaleInput = model.input("conditioning_scale");
    if (scaleInput && scaleInput.dtype !== "f32") throw new ModelError(`${path}: conditioning_scale is ${scaleInput.dtype}, expected f32`);
    this.dtype = sample.dtype;
    this.timestep = timestep;
    this.hasScaleInput = scaleInput !== undefined;
    this.residualCount = model.outputs.length;
    this.config = readLayoutConfig(join(dirname(path), "config.json"));
  }

  static load(path: string, backend: Backend): ControlNet {
    const model = OrtModel.load(path, backend);
    try {
      return new ControlNet(model);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /**
   * Shapes of the residuals for latents [batch, 4, h, w]. Each dim comes from the output's own
   * metadata, else from `like` (the UNet inputs the residuals feed, same order), else from the
   * export's config.json; a dim none of them settles is a ModelError naming the output.
   */
  residualShapes(batch: number, h: number, w: number, like: readonly (TensorInfo | undefined)[] = []): number[][] {
    return this.model.outputs.map((out, i) => residualShape(this.model.path, i, [out, like[i]], this.config, batch, h, w));
  }

  /**
   * Residuals for `sample` [B, 4, h, w] (f32) at timestep `t`, text `context` [B, 77, D] (f32)
   * and control image `cond` [B, 3, 8h, 8w] (f32, [0, 1]). Residual i is multiplied by
   * `scales[i]` (or by `scales` when it is one number). `like` as for residualShapes.
   * Returns new f32 tensors, the caller's to dispose.
   */
  /** Calls `fn` at every attention site `selector` picks, on each run (see unet-hooks.ts). */
  hook(selector: SiteSelector, fn: UnetHook): HookHandle {
    return this.hooks.hook(selector, fn);
  }

  /** Every hookable attention site of this ControlNet. */
  get sites(): readonly HookSite[] {
    return this.hooks.sites;
  }

  residuals(
    sample: Tensor,
    t: number,
    context: Tensor,
    cond: Tensor,
    scales: number | readonly number[] = 1,
    like: readonly (TensorInfo | undefined)[] = [],
    step?: { index: number },
  ): Tensor[] {
    const backend = sample.backend;
    const [batch = 1, , h = 0, w = 0] = sample.shape;
    const factors = typeof scales === "number" ? new Array<number>(this.residualCount).fill(scales) : [...scales];
    if (factors.length !== this.residualCount) throw new RangeError(`${factors.length} scales for ${this.residualCount} ControlNet residuals`);
    const half = this.dtype === "f16";
    const owned: Tensor[] = [];
    const feed = (x: Tensor) => {
      if (!half) return x;
      const y = cast(x, "f16");
      owned.push(y);
      return y;
    };
    const feeds: Record<string, Tensor> = {
      sample: feed(sample),
      timestep: this.#timestepTensor(backend, t, batch),
      encoder_hidden_states: feed(context),
      controlnet_cond: feed(cond),
    };
    owned.push(feeds.timestep!);
    let common = 1;
    if (this.hasScaleInput) {
      // the export applies one scale itself; what is left per residual is the guess-mode weight
      common = factors.find((f) => f !== 0) ?? 0;
      feeds.conditioning_scale = Tensor.from(backend, "f32", this.model.input("conditioning_scale")!.dims.length ? [1] : [], Float32Array.of(common));
      owned.push(feeds.conditioning_scale);
    }
    const shapes = this.residualShapes(batch, h, w, like);
    const outputs = shapes.map((shape) => Tensor.empty(backend, this.dtype, shape));
    try {
      this.hooks.run(feeds, Object.fromEntries(this.model.outputs.map((o, i) => [o.name, outputs[i]!])), step);
    } catch (e) {
      for (const o of outputs) o.dispose();
      throw e;
    } finally {
      for (const o of owned) o.dispose();
    }
    return outputs.map((raw, i) => {
      const f32 = half ? cast(raw, "f32") : raw;
      if (half) raw.dispose();
      const factor = this.hasScaleInput ? (common === 0 ? 0 : factors[i]! / common) : factors[i]!;
      return factor === 1 ? f32 : scaleOp(f32, factor, f32);
    });
  }

  #timestepTensor(backend: Backend, t: number, batch: number): Tensor {
    const dims = this.timestep.dims;
    // a 1-D timestep is [batch] in these exports; a fixed length is kept as declared
    const length = dims.length === 0 ? 0 : typeof dims[0] === "number" && dims[0] > 0 ? dims[0] : batch;
    const shape = dims.length === 0 ? [] : [length];
    const n = Math.max(length, 1);
    switch (this.timestep.dtype) {
      case "i64":
        return Tensor.from(backend, "i64", shape, new BigInt64Array(n).fill(BigInt(Math.trunc(t))));
      case "f16":
        return Tensor.from(backend, "f16", shape, new Uint16Array(new Float16Array(n).fill(t).buffer));
      default:
        return Tensor.from(backend, "f32", shape, new Float32Array(n).fill(t));
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

/**
 * Shape of residual `i` for latents [batch, 4, h, w], from the first of `sources` (tensor
 * metadata) that fixes each dim, else from a config layout. Unsettled dims are a ModelError.
 */
export function residualShape(
  what: string,
  i: number,
  sources: readonly (TensorInfo | undefined)[],
  config: ResidualLayout | undefined,
  batch: number,
  h: number,
  w: number,
): number[] {
  const infos = sources.filter((s): s is TensorInfo => s !== undefined);
  const channels = infos.map((s) => s.dims[1]).find((d): d is number => typeof d === "number" && d > 0) ?? config?.channels[i];
  const spatial = [2, 3].map((axis) => {
    const size = axis === 2 ? h : w;
    for (const s of infos) {
      const d = s.dims[axis];
      if (typeof d === "number" && d > 0) return d;
      const f = dimFactor(s.dimNames?.[axis]);
      if (f) return size / f;
    }
    const f = config?.factors[i];
    return f ? size / f : undefined;
  });
  if (!channels || spatial.some((d) => d === undefined || !Number.isInteger(d))) {
    throw new ModelError(
      `${what}: cannot tell the shape of residual ${i} (${infos[0]?.name ?? "?"}) for latents ${h}x${w}; ` +
        "name its dims height/heightN, or put the ControlNet's config.json beside it",
    );
  }
  return [batch, channels, spatial[0]!, spatial[1]!];
}

function readLayoutConfig(path: string): ResidualLayout | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const c = JSON.parse(readFileSync(path, "utf8"));
    if (!Array.isArray(c.block_out_channels) || typeof c.layers_per_block !== "number") return undefined;
    return residualLayoutFromConfig(c);
  } catch {
    return undefined;
  }
}
