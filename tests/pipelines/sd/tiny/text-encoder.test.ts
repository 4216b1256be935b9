import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Session, Value } from "../../../../ffi/ort/index.ts";
import { readModel } from "../../../../pipelines/onnx/model-builder.ts";
import { ensureTinyModel } from "../../../../pipelines/sd/tiny/index.ts";
import { ClipTokenizer } from "../../../../pipelines/sd/clip-tokenizer.ts";

let session: Session;
let tokenizer: ClipTokenizer;
let nodeNames: Set<string>;

beforeAll(async () => {
  const dir = await ensureTinyModel();
  session = Session.create(join(dir, "text_encoder", "model.onnx"), { intraOpThreads: 2 });
  tokenizer = await ClipTokenizer.load(join(dir, "tokenizer"));
  nodeNames = new Set(readModel(readFileSync(join(dir, "text_encoder", "model.onnx"))).graph!.node!.map((n) => n.name!));
});

function encode(rows: Int32Array[]): { last: Float32Array; pooled: Float32Array; ids: BigInt64Array } {
  const ids = new BigInt64Array(rows.length * 77);
  rows.forEach((row, b) => row.forEach((id, i) => (ids[b * 77 + i] = BigInt(id))));
  const out = session.run({ input_ids: Value.fromTypedArray("i64", [rows.length, 77], ids) });
  expect(out.last_hidden_state!.shape).toEqual([rows.length, 77, 64]);
  expect(out.pooler_output!.shape).toEqual([rows.length, 64]);
  return { last: out.last_hidden_state!.data as Float32Array, pooled: out.pooler_output!.data as Float32Array, ids };
}

describe("the tiny text encoder", () => {
  test("has optimum's I/O: int64 input_ids [batch_size, sequence_length] → last_hidden_state, pooler_output", () => {
    expect(session.inputs.map((i) => [i.name, i.dtype, i.dimNames])).toEqual([["input_ids", "i64", ["batch_size", "sequence_length"]]]);
    expect(session.outputs.map((o) => [o.name, o.dtype, o.dims, o.dimNames])).toEqual([
      ["last_hidden_state", "f32", [-1, -1, 64], ["batch_size", "sequence_length", ""]],
      ["pooler_output", "f32", [-1, 64], ["batch_size", ""]],
    ]);
  });

  test("names its layers like transformers' CLIPTextModel export", () => {
    for (const l of [0, 1]) {
      for (const leaf of ["self_attn/q_proj/MatMul", "self_attn/k_proj/MatMul", "self_attn/v_proj/MatMul", "self_attn/Softmax", "self_attn/out_proj/MatMul", "mlp/fc1/MatMul", "mlp/fc2/MatMul"]) {
        expect(nodeNames.has(`/text_model/encoder/layers.${l}/${leaf}`)).toBe(true);
      }
    }
    expect(nodeNames.has("/text_model/encoder/layers.2/self_attn/Softmax")).toBe(false);
  });

  describe("given two prompts in one batch", () => {
    let fox: Int32Array;
    let ocean: Int32Array;
    let result: ReturnType<typeof encode>;
    beforeAll(() => {
      fox = tokenizer.encode("a red fox in a forest");
      ocean = tokenizer.encode("a blue ocean with waves and a boat");
      result = encode([fox, ocean]);
    });

    test("gives finite hidden states of unit-ish size (after the final LayerNorm)", () => {
      expect(result.last.every(Number.isFinite)).toBe(true);
      const rms = Math.sqrt(result.last.reduce((s, v) => s + v * v, 0) / result.last.length);
      expect(rms).toBeGreaterThan(0.5);
      expect(rms).toBeLessThan(2);
    });

    test("pools the hidden state at the first highest id (the EOS), found here by a plain loop", () => {
      for (let b = 0; b < 2; b++) {
        let eos = 0;
        for (let i = 1; i < 77; i++) if (result.ids[b * 77 + i]! > result.ids[b * 77 + eos]!) eos = i;
        expect(eos).toBe((b === 0 ? fox : ocean).indexOf(tokenizer.eosId));
        expect(Array.from(result.pooled.subarray(b * 64, b * 64 + 64))).toEqual(Array.from(result.last.subarray((b * 77 + eos) * 64, (b * 77 + eos + 1) * 64)));
      }
    });

    test("gives each batch row what it gives that prompt alone", () => {
      const alone = encode([ocean]).last;
      const batched = result.last.subarray(77 * 64);
      for (let i = 0; i < alone.length; i += 31) expect(batched[i]!).toBeCloseTo(alone[i]!, 5);
    });

    test("attends causally: a later token changes nothing before it, and the padding after it does change", () => {
      const changed = fox.slice();
      changed[4] = tokenizer.tokenToId("blue</w>")!;
      const other = encode([changed]).last;
      const diff = (pos: number) => Math.max(...Array.from({ length: 64 }, (_, k) => Math.abs(other[pos * 64 + k]! - result.last[pos * 64 + k]!)));
      for (let pos = 0; pos < 4; pos++) expect(diff(pos)).toBeLessThan(1e-5);
      expect(diff(4)).toBeGreaterThan(0.1);
      expect(diff(40)).toBeGreaterThan(0.01);
    });
  });

  test("accepts sequences shorter than 77 (position embeddings sliced to the length)", () => {
    const ids = BigInt64Array.from([2661n, 64n, 2662n]);
    const out = session.run({ input_ids: Value.fromTypedArray("i64", [1, 3], ids) });
    expect(out.last_hidden_state!.shape).toEqual([1, 3, 64]);
  });
});
