import type { Backend } from "../runtime/backend.ts";
import { OrtModel } from "../runtime/ort-model.ts";
import { cast } from "../runtime/blend-ops.ts";
import { Tensor } from "../runtime/tensor.ts";
import { ModelError } from "../errors.ts";
import { ClipTokenizer } from "./clip-tokenizer.ts";

/** CLIP text encoder + tokenizer: prompts → `last_hidden_state` [B, 77, D] (what the UNet reads). */
export class TextEncoder implements Disposable {
  private constructor(
    readonly tokenizer: ClipTokenizer,
    private readonly model: OrtModel,
    private readonly idsDtype: "i32" | "i64",
    private readonly outDtype: "f32" | "f16",
    /** Width of the embeddings (768 for SD 1.x, 1024 for SD 2.x). */
    readonly width: number,
  ) {}

  static async load(modelPath: string, tokenizerDir: string, backend: Backend): Promise<TextEncoder> {
    const tokenizer = await ClipTokenizer.load(tokenizerDir);
    const model = OrtModel.load(modelPath, backend);
    const ids = model.input("input_ids");
    const out = model.output("last_hidden_state");
    if (!ids || (ids.dtype !== "i32" && ids.dtype !== "i64") || !out) {
      model.dispose();
      throw new ModelError(
        `${modelPath}: expected input input_ids (int32 or int64) and output last_hidden_state; ` +
          `found inputs ${model.inputs.map((i) => `${i.name} (${i.dtype})`).join(", ")}`,
      );
    }
    const width = out.dims[2] ?? -1;
    if (!(width > 0)) {
      model.dispose();
      throw new ModelError(`${modelPath}: last_hidden_state has no fixed width (dims ${out.dims.join("×")})`);
    }
    return new TextEncoder(tokenizer, model, ids.dtype, out.dtype === "f16" ? "f16" : "f32", width);
  }

  /** Encodes each prompt; row i of the result belongs to prompts[i]. */
  encode(prompts: readonly string[]): Tensor {
    const n = this.tokenizer.maxLength;
    const backend = this.model.backend;
    const rows = prompts.map((p) => this.tokenizer.encode(p));
    const flat = new Int32Array(prompts.length * n);
    rows.forEach((r, i) => flat.set(r, i * n));
    using ids =
      this.idsDtype === "i32"
        ? Tensor.from(backend, "i32", [prompts.length, n], flat)
        : Tensor.from(backend, "i64", [prompts.length, n], BigInt64Array.from(flat, BigInt));
    const out = Tensor.empty(backend, this.outDtype, [prompts.length, n, this.width]);
    this.model.run({ input_ids: ids }, { last_hidden_state: out });
    if (this.outDtype === "f32") return out;
    using half = out;
    return cast(half, "f32");
  }

  dispose(): void {
    this.model.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
