/**
 * The site finder and the cut on graphs real exporters made: tiny diffusers-named UNets and a
 * ControlNet exported by torch.onnx.export (Debian's python3-torch 1.13; tests/fixtures/exporters/
 * export_torch.py wrote them and torch's outputs), and the forms derive.ts makes of them the way
 * other tools do (old unscoped names, fp16, ORT's fused MultiHeadAttention, ORT offline optimisation).
 *
 * What each block must be is written here from the module layout in export_torch.py, not read from
 * the finder: down_blocks.0 and up_blocks.1 run at the latent size (16×16 = 256 tokens), mid_block
 * one halving down (64 tokens); every transformer block has attn1 (self) then attn2 (cross, 77 tokens).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { onnx } from "onnx-proto";
import { type AttentionBlock, type AttentionPattern, findAttentionBlocks, tokenCounts } from "../../../pipelines/onnx/attention-sites.ts";
import { readModel } from "../../../pipelines/onnx/model-reader.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { OrtModel } from "../../../pipelines/runtime/ort-model.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { HookableModel } from "../../../pipelines/sd/unet-hooks.ts";
import { anonymise, encode, fuseMultiHeadAttention, ortOptimised, readExportIo, toFloat16 } from "../../fixtures/exporters/derive.ts";

const FIXTURES = join(import.meta.dir, "../../fixtures/exporters");
const HEADS = 2; // export_torch.py's HEADS
const LATENT = 16;
const cpu = new CpuBackend();
const tmp = mkdtempSync(join(tmpdir(), "latentloom-exporters-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const transformer = (scope: string) => [`${scope}/transformer_blocks.0/attn1`, `${scope}/transformer_blocks.0/attn2`];
const UNET_BLOCKS = [...transformer("down_blocks.0/attentions.0"), ...transformer("mid_block/attentions.0"), ...transformer("up_blocks.1/attentions.0"), ...transformer("up_blocks.1/attentions.1")];
const CONTROLNET_BLOCKS = UNET_BLOCKS.slice(0, 4);
const queryTokens = (name: string) => (name.startsWith("mid_block") ? 64 : 256);

interface Form {
  name: string;
  source: string;
  blocks: readonly string[];
  pattern: AttentionPattern;
  placeFrom: "names" | "graph";
  /** Sites the form has per block. */
  kinds: readonly string[];
  derive?: (model: onnx.ModelProto, path: string) => onnx.ModelProto | Promise<onnx.ModelProto>;
  /** Largest |ours − torch| on the output (fp16 rounds). */
  tolerance: number;
  /**
   * fp16 on the CPU EP only: ORT runs the ops it has no half kernel for in float behind Casts it
   * inserts, and a cut rounds every tensor crossing it to half where the whole graph kept float,
   * so identity hooks cannot give the uncut bytes there (a GPU has the half kernels). The bound.
   */
  cutTolerance?: number;
}

const ALL = ["q", "k", "v", "probs", "out"];
const FORMS: Form[] = [
  { name: "torch 1.13, opset 14, bmm(q, kᵀ)·scale", source: "bmm-unet", blocks: UNET_BLOCKS, pattern: "classic", placeFrom: "names", kinds: ALL, tolerance: 1e-4 },
  { name: "torch 1.13, opset 14, baddbmm with a zero term, upcast softmax, dynamic axes", source: "baddbmm-unet", blocks: UNET_BLOCKS, pattern: "classic", placeFrom: "names", kinds: ALL, tolerance: 1e-4 },
  { name: "torch 1.13, opset 14, einsum", source: "einsum-unet", blocks: UNET_BLOCKS, pattern: "classic", placeFrom: "names", kinds: ALL, tolerance: 1e-4 },
  { name: "torch 1.13, opset 17, SDPA decomposition (√scale on q and kᵀ), dynamic axes", source: "sdpa-unet", blocks: UNET_BLOCKS, pattern: "sdpa", placeFrom: "names", kinds: ALL, tolerance: 1e-4 },
  { name: "ControlNet, opset 17, baddbmm", source: "baddbmm-controlnet", blocks: CONTROLNET_BLOCKS, pattern: "classic", placeFrom: "names", kinds: ALL, tolerance: 1e-4 },
  { name: "torch ≤ 1.12 names (no scopes), bmm", source: "bmm-unet", blocks: UNET_BLOCKS, pattern: "classic", placeFrom: "graph", kinds: ALL, derive: anonymise, tolerance: 1e-4 },
  { name: "torch ≤ 1.12 names (no scopes), SDPA", source: "sdpa-unet", blocks: UNET_BLOCKS, pattern: "sdpa", placeFrom: "graph", kinds: ALL, derive: anonymise, tolerance: 1e-4 },
  { name: "fp16 with Casts around the upcast softmax", source: "baddbmm-unet", blocks: UNET_BLOCKS, pattern: "classic", placeFrom: "names", kinds: ALL, derive: toFloat16, tolerance: 3e-2, cutTolerance: 1e-2 },
  { name: "ORT-fused MultiHeadAttention", source: "baddbmm-unet", blocks: UNET_BLOCKS, pattern: "fused", placeFrom: "names", kinds: ["q", "k", "v", "out"], derive: (m) => fuseMultiHeadAttention(m, HEADS), tolerance: 1e-4 },
  { name: "ORT offline optimisation, basic (Gemm between Reshapes)", source: "bmm-unet", blocks: UNET_BLOCKS, pattern: "classic", placeFrom: "names", kinds: ALL, derive: (_, p) => ortOptimised(p, "basic", join(tmp, "bmm-basic.onnx")), tolerance: 1e-4 },
  { name: "ORT offline optimisation, extended (FusedMatMul with transB and alpha)", source: "bmm-unet", blocks: UNET_BLOCKS, pattern: "classic", placeFrom: "names", kinds: ALL, derive: (_, p) => ortOptimised(p, "extended", join(tmp, "bmm-extended.onnx")), tolerance: 1e-4 },
  { name: "ORT offline optimisation, extended, SDPA", source: "sdpa-unet", blocks: UNET_BLOCKS, pattern: "sdpa", placeFrom: "names", kinds: ALL, derive: (_, p) => ortOptimised(p, "extended", join(tmp, "sdpa-extended.onnx")), tolerance: 1e-4 },
];

async function prepare(form: Form, index: number): Promise<{ path: string; model: onnx.IModelProto }> {
  const source = join(FIXTURES, `${form.source}.onnx`);
  const original = readModel(readFileSync(source));
  if (!form.derive) return { path: source, model: original };
  const model = await form.derive(original, source);
  const path = join(tmp, `form-${index}.onnx`);
  writeFileSync(path, encode(model));
  return { path, model };
}

function feedsFor(source: string, model: OrtModel): { feeds: Record<string, Tensor>; expected: Float32Array[] } {
  const io = readExportIo(join(FIXTURES, `${source}.io.bin`));
  const names = ["sample", "timestep", "encoder_hidden_states", "controlnet_cond"].filter((n) => model.input(n));
  const feeds: Record<string, Tensor> = {};
  names.forEach((name, i) => {
    const { dims, data } = io[i]!;
    feeds[name] = name === "timestep" ? Tensor.from(cpu, "i64", dims, Array.from(data)) : Tensor.from(cpu, "f32", dims, data);
  });
  return { feeds, expected: io.slice(names.length).map((a) => a.data) };
}

function runOnce(model: HookableModel, ort: OrtModel, feeds: Record<string, Tensor>): Float32Array[] {
  const names = ort.outputs.map((o) => o.name);
  const outputs = Object.fromEntries(names.map((n) => [n, Tensor.empty(cpu, "f32", outputShape(n))]));
  model.run(feeds, outputs);
  const read = names.map((n) => outputs[n]!.readF32());
  for (const t of Object.values(outputs)) t.dispose();
  return read;
}

/** Output shapes of the fixtures at a 16×16 latent: out_sample [1,4,16,16]; the ControlNet's residuals. */
function outputShape(name: string): number[] {
  if (name === "out_sample") return [1, 4, LATENT, LATENT];
  if (name === "mid_block_res_sample") return [1, 16, LATENT / 2, LATENT / 2];
  const i = Number(name.split(".")[1]);
  return [1, 16, i < 2 ? LATENT : LATENT / 2, i < 2 ? LATENT : LATENT / 2];
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe("attention sites in graphs real exporters made", () => {
  FORMS.forEach((form, index) => {
    describe(form.name, () => {
      test("the finder finds exactly the expected blocks, self vs cross, places and token counts", async () => {
        const { model } = await prepare(form, index);
        const blocks = findAttentionBlocks(model);
        const summary = (b: AttentionBlock) => ({ name: b.name, self: b.self, pattern: b.pattern, from: b.place.from, tokens: tokenCounts(b, LATENT, LATENT), kinds: Object.keys(b.tensors).sort() });
        expect(blocks.map(summary)).toEqual(
          form.blocks.map((name) => ({
            name,
            self: name.endsWith("attn1"),
            pattern: form.pattern,
            from: form.placeFrom,
            tokens: { query: queryTokens(name), key: name.endsWith("attn1") ? queryTokens(name) : 77 },
            kinds: [...form.kinds].sort(),
          })),
        );
      });

      test("runs like torch; identity hooks on every site give the uncut bytes; zeroing one `out` changes the output", async () => {
        const { path } = await prepare(form, index);
        // "extended": the NCHWc layout pass of "all" rounds per session (see OrtModelOptions.optimization).
        using ort = OrtModel.load(path, cpu, { optimization: "extended" });
        using hookable = new HookableModel(ort);
        const { feeds, expected } = feedsFor(form.source, ort);
        try {
          const plain = runOnce(hookable, ort, feeds);
          plain.forEach((out, i) => expect(maxAbsDiff(out, expected[i]!)).toBeLessThan(form.tolerance));

          const seen = new Set<string>();
          const identity = hookable.hook({ site: ["q", "k", "v", "probs", "out"] }, (_, ctx) => void seen.add(ctx.site.name));
          const cut = runOnce(hookable, ort, feeds);
          identity.remove();
          expect(seen.size).toBe(form.blocks.length * form.kinds.length);
          if (form.cutTolerance === undefined) cut.forEach((out, i) => expect(Buffer.from(out.buffer).equals(Buffer.from(plain[i]!.buffer))).toBe(true));
          else {
            const worst = Math.max(...cut.map((out, i) => maxAbsDiff(out, plain[i]!)));
            console.log(`${form.name}: cut vs uncut differ by up to ${worst.toExponential(1)} on the CPU EP (half rounding at the cuts)`);
            expect(worst).toBeLessThan(form.cutTolerance);
          }

          const target = form.blocks[1]!; // a cross-attention at the latent size
          let zeros: Tensor | undefined;
          const zero = hookable.hook({ site: "out", where: (s) => s.block.name === target }, (t) => (zeros ??= Tensor.empty(cpu, t.dtype, t.shape)));
          const zeroed = runOnce(hookable, ort, feeds);
          zero.remove();
          zeros?.dispose();
          expect(Math.max(...zeroed.map((out, i) => maxAbsDiff(out, plain[i]!)))).toBeGreaterThan(1e-3);
        } finally {
          for (const t of Object.values(feeds)) t.dispose();
        }
      });
    });
  });
});
