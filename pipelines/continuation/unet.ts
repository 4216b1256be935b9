/**
 * The ContinuitySeq UNet of an export (docs/continuation.md): `sample` [B, 4, F, h, w] noisy,
 * `conditioning_hidden_states` [B, 4, Fc, h, w] clean, one timestep for the whole call.
 *
 *   using unet = ContinuationUnet.load(`${dir}/unet/model.onnx`, backend);
 *   using eps = unet.predict(noisy, conditioning, 981, context);   // B = 2 under guidance
 *
 * What the export takes is read from the session: the float type, the timestep's rank and type
 * (a scalar as the spec's, or [1]/[B]), and how many conditioning frames its frame axis allows
 * (dynamic, or a fixed count, which is then the only one it takes).
 */
import { ModelError, UsageError } from "../errors.ts";
import type { Backend } from "../runtime/backend.ts";
import { cast } from "../runtime/blend-ops.ts";
import { OrtModel, type TensorInfo } from "../runtime/ort-model.ts";
import { Tensor } from "../runtime/tensor.ts";

const NAMES = {
  sample: ["sample", "x"],
  conditioning: ["conditioning_hidden_states", "conditioning"],
  timestep: ["timestep", "timesteps", "t"],
  context: ["encoder_hidden_states", "context"],
  output: ["out_sample", "noise_pred", "eps", "out"],
} as const;

const HINT = "docs/continuation.md describes the ContinuitySeq UNet layout; --model tiny-continuation is the built-in one";

export class ContinuationUnet implements Disposable {
  readonly dtype: "f32" | "f16";
  /** Conditioning frames the export's axis takes: null when dynamic, else the fixed count. */
  readonly fixedConditioningFrames: number | null;
  readonly #names: { sample: string; conditioning: string; timestep: string; context: string; output: string };
  readonly #timestep: TensorInfo;

  private constructor(readonly model: OrtModel) {
    const path = model.path;
    const find = (names: readonly string[], side: "input" | "output") => names.map((n) => (side === "input" ? model.input(n) : model.output(n))).find((i) => i !== undefined);
    const sample = find(NAMES.sample, "input");
    const conditioning = find(NAMES.conditioning, "input");
    const timestep = find(NAMES.timestep, "input");
    const context = find(NAMES.context, "input");
    const output = find(NAMES.output, "output");
    const found = `found inputs ${model.inputs.map(describe).join(", ")}`;
    if (!conditioning) {
      throw new ModelError(`${path} has no conditioning_hidden_states input: a ContinuitySeq UNet takes clean conditioning latents [batch, 4, frames, height, width]; ${found}`, HINT);
    }
    if (!sample || !timestep || !context || !output) {
      throw new ModelError(`${path}: expected inputs sample, conditioning_hidden_states, timestep, encoder_hidden_states and output out_sample; ${found}`, HINT);
    }
    if (sample.dims.length !== 5 || conditioning.dims.length !== 5) {
      throw new ModelError(`${path}: ${describe(sample)} and ${describe(conditioning)} must both be [batch, 4, frames, height, width]`, HINT);
    }
    if (sample.dtype !== "f32" && sample.dtype !== "f16") throw new ModelError(`${path}: ${sample.name} is ${sample.dtype}, expected f32 or f16`);
    if (!["i64", "i32", "f32", "f16"].includes(timestep.dtype)) throw new ModelError(`${path}: ${timestep.name} is ${timestep.dtype}, expected int64, int32 or float`);
    if (timestep.dims.length > 1) throw new ModelError(`${path}: ${describe(timestep)} should be one timestep for the call (a scalar, [1] or [batch])`, HINT);
    this.dtype = sample.dtype;
    const fc = conditioning.dims[2]!;
    this.fixedConditioningFrames = fc >= 0 ? fc : null;
    this.#timestep = timestep;
    this.#names = { sample: sample.name, conditioning: conditioning.name, timestep: timestep.name, context: context.name, output: output.name };
  }

  static load(path: string, backend: Backend): ContinuationUnet {
    const model = OrtModel.load(path, backend);
    try {
      return new ContinuationUnet(model);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /**
   * ε for `sample` [B, 4, F, h, w] given clean `conditioning` [B, 4, Fc, h, w] at timestep `t`,
   * text `context` [B, S, D]; all f32. Returns a new f32 tensor shaped like `sample`.
   */
  predict(sample: Tensor, conditioning: Tensor, t: number, context: Tensor): Tensor {
    const [batch = 0, , , h = 0, w = 0] = sample.shape;
    if (sample.shape.length !== 5 || conditioning.shape.length !== 5) throw new RangeError(`sample and conditioning must be [B, 4, T, h, w]`);
    const [cb, , fc = 0, ch, cw] = conditioning.shape;
    if (cb !== batch) throw new RangeError(`conditioning has ${cb} rows for ${batch} clips`);
    if (ch !== h || cw !== w) throw new UsageError(`conditioning latents are ${cw}x${ch}, the clip's ${w}x${h}: conditioning frames must be the video's size`);
    const fixed = this.fixedConditioningFrames;
    if (fixed !== null && fc !== fixed) throw new UsageError(`${this.model.path} takes exactly ${fixed} conditioning frames (a fixed axis), not ${fc}`, HINT);
    if (context.shape[0] !== batch) throw new RangeError(`context has ${context.shape[0]} rows for ${batch} clips`);
    const backend = sample.backend;
    const owned: Tensor[] = [];
    const float = (x: Tensor) => {
      if (this.dtype === "f32") return x;
      const y = cast(x, "f16");
      owned.push(y);
      return y;
    };
    const n = this.#names;
    const timestep = this.#timestepTensor(backend, t, batch);
    owned.push(timestep);
    const out = Tensor.empty(backend, this.dtype, sample.shape);
    try {
      this.model.run({ [n.sample]: float(sample), [n.conditioning]: float(conditioning), [n.timestep]: timestep, [n.context]: float(context) }, { [n.output]: out });
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      for (const x of owned) x.dispose();
    }
    if (this.dtype === "f32") return out;
    using h16 = out;
    return cast(h16, "f32");
  }

  #timestepTensor(backend: Backend, t: number, batch: number): Tensor {
    const info = this.#timestep;
    const shape = info.dims.length === 0 ? [] : [info.dims[0]! === 1 ? 1 : batch];
    const count = shape.length === 0 ? 1 : shape[0]!;
    const values = Array<number>(count).fill(t);
    switch (info.dtype) {
      case "i64":
        return Tensor.from(backend, "i64", shape, BigInt64Array.from(values, (v) => BigInt(Math.trunc(v))));
      case "i32":
        return Tensor.from(backend, "i32", shape, Int32Array.from(values, Math.trunc));
      case "f16":
        return Tensor.from(backend, "f16", shape, new Uint16Array(Float16Array.from(values).buffer));
      default:
        return Tensor.from(backend, "f32", shape, Float32Array.from(values));
    }
  }

  dispose(): void {
    this.model.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function describe(info: TensorInfo): string {
  const dims = info.dims.map((d, i) => (d >= 0 ? String(d) : info.dimNames[i] || "?"));
  return `${info.name} ${info.dtype} [${dims.join(", ")}]`;
}
