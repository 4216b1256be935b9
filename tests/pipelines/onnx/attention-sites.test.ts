import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AttentionBlock, findAttentionBlocks, tokenCounts } from "../../../pipelines/onnx/attention-sites.ts";
import { GraphBuilder } from "../../../pipelines/onnx/model-builder.ts";
import { readModel } from "../../../pipelines/onnx/model-reader.ts";
import { ensureTinyModel } from "../../../pipelines/sd/tiny/index.ts";
import { type ExpectedBlock, writeSdpaUnet } from "./sdpa-unet.ts";

const tmp = mkdtempSync(join(tmpdir(), "latentloom-sites-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const load = (path: string) => findAttentionBlocks(readModel(readFileSync(path)));
/** At 256×256 the latent is 32×32; the context is 77 tokens. */
const at256 = (b: AttentionBlock) => tokenCounts(b, 32, 32, 77);

/** The tiny UNet's transformer blocks (tiny/unet-blocks.ts) and the halvings of the latent at each. */
const TINY_TRANSFORMERS: [string, "down" | "mid" | "up", number][] = [
  ["down_blocks.0/attentions.0", "down", 0],
  ["down_blocks.1/attentions.0", "down", 1],
  ["mid_block/attentions.0", "mid", 2],
  ["up_blocks.1/attentions.0", "up", 1],
  ["up_blocks.1/attentions.1", "up", 1],
  ["up_blocks.2/attentions.0", "up", 0],
  ["up_blocks.2/attentions.1", "up", 0],
];

describe("findAttentionBlocks", () => {
  describe("on the tiny UNet (classic AttnProcessor pattern)", () => {
    let blocks: AttentionBlock[];
    beforeAll(async () => {
      blocks = load(join(await ensureTinyModel(), "unet", "model.onnx"));
    });

    test("finds exactly its 14 attention modules, attn1 self and attn2 cross, with place and level", () => {
      const expected = TINY_TRANSFORMERS.flatMap(([scope, block, level]) =>
        (["attn1", "attn2"] as const).map((attn) => ({
          name: `${scope}/transformer_blocks.0/${attn}`,
          self: attn === "attn1",
          pattern: "classic" as const,
          block,
          attn,
          level,
        })),
      );
      expect(blocks.map((b) => ({ name: b.name, self: b.self, pattern: b.pattern, block: b.place.block, attn: b.place.attn, level: b.level }))).toEqual(expected);
    });

    test("gives 1024/256/64 query tokens at 256×256, keys = queries for self and 77 for cross", () => {
      const tokens = blocks.map((b) => at256(b));
      const byLevel = [1024, 256, 64];
      expect(tokens).toEqual(blocks.map((b) => ({ query: byLevel[b.level!]!, key: b.self ? byLevel[b.level!]! : 77 })));
    });

    test("names the tensors entering Q·Kᵀ and P·V, the Softmax output and to_out.0's bias Add", () => {
      const scope = "/down_blocks.0/attentions.0/transformer_blocks.0/attn1";
      expect(blocks[0]!.tensors).toEqual({
        q: `${scope}/Reshape_1_output_0`,
        k: `${scope}/Reshape_3_output_0`,
        v: `${scope}/Reshape_5_output_0`,
        probs: `${scope}/Softmax_output_0`,
        out: `${scope}/to_out.0/Add_output_0`,
      });
    });
  });

  describe("on the tiny ControlNet", () => {
    test("finds the 6 attention modules of its encoder copy (down and mid only)", async () => {
      const blocks = load(join(await ensureTinyModel("tiny-controlnet"), "controlnet", "model.onnx"));
      expect(blocks.map((b) => `${b.place.block}:${b.name}:${b.self}`)).toEqual(
        TINY_TRANSFORMERS.slice(0, 3).flatMap(([scope, block]) => [
          `${block}:${scope}/transformer_blocks.0/attn1:true`,
          `${block}:${scope}/transformer_blocks.0/attn2:false`,
        ]),
      );
    });
  });

  describe("on an export-shaped graph (AttnProcessor2_0, /unet/ prefix)", () => {
    let blocks: AttentionBlock[];
    let expected: ExpectedBlock[];
    beforeAll(() => {
      const written = writeSdpaUnet(tmp);
      expected = written.blocks;
      blocks = load(written.path);
    });

    test("finds every block with its sdpa pattern, prefix, place, self/cross and site tensors", () => {
      expect(
        blocks.map((b) => ({ name: b.name, self: b.self, block: b.place.block, level: b.level, tensors: b.tensors, pattern: b.pattern, prefix: b.place.prefix })),
      ).toEqual(expected.map((e) => ({ ...e, pattern: "sdpa", prefix: "/unet" })));
    });

    test("counts tokens at 256×256 from the traced level (the mid block at half resolution)", () => {
      expect(blocks.map(at256)).toEqual([
        { query: 1024, key: 1024 },
        { query: 1024, key: 77 },
        { query: 256, key: 256 },
        { query: 1024, key: 1024 },
        { query: 1024, key: 77 },
      ]);
    });

    test("rounds odd sizes up, as stride-2 convs with padding do", () => {
      expect(tokenCounts(blocks[2]!, 33, 31)).toEqual({ query: 17 * 16, key: 17 * 16 });
    });
  });

  describe("on graphs without the pattern or the names", () => {
    test("finds nothing in a Softmax that is not fed by Q·Kᵀ", () => {
      const g = new GraphBuilder("plain-softmax");
      const x = g.input("x", "f32", [2, 3]);
      g.output(g.node("Softmax", [g.node("Relu", [x])], { attrs: { axis: -1 } }), "f32", [2, 3], "y");
      expect(findAttentionBlocks(readModel(g.toModel()))).toEqual([]);
    });

    test("classifies an unnamed attention by pattern, with place unknown and k taken before its transpose", () => {
      const g = new GraphBuilder("unnamed");
      const x = g.input("x", "f32", [1, 4, 8]);
      const w = (n: string) => g.initializer(n, new Float32Array(64).fill(0.1), [8, 8]);
      const q = g.node("MatMul", [x, w("wq")]);
      const k = g.node("MatMul", [x, w("wk")]);
      const kt = g.node("Transpose", [k], { attrs: { perm: [0, 2, 1] } });
      const v = g.node("MatMul", [x, w("wv")]);
      const scores = g.node("Mul", [g.node("MatMul", [q, kt]), g.initializer("scale", Float32Array.of(0.35), [])]);
      const mixed = g.node("MatMul", [g.node("Softmax", [scores], { attrs: { axis: -1 } }), v]);
      const out = g.node("Add", [g.node("MatMul", [mixed, w("wo")]), g.initializer("bo", new Float32Array(8), [8])]);
      g.output(g.node("Add", [out, x]), "f32", [1, 4, 8], "y");
      const [block, ...rest] = findAttentionBlocks(readModel(g.toModel()));
      expect(rest).toEqual([]);
      expect({ name: block!.name, self: block!.self, block: block!.place.block, k: block!.tensors.k, out: block!.tensors.out }).toEqual({
        name: "attention_0",
        self: true,
        block: "unknown",
        k: k.name, // before the transpose into Kᵀ: rows are tokens, like q and v
        out: out.name,
      });
    });
  });
});
