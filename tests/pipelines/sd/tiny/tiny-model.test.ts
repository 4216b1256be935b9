import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "../../../../ffi/ort/index.ts";
import {
  buildTinyControlNet,
  buildTinyTextEncoder,
  buildTinyUnet,
  buildTinyVaeDecoder,
  buildTinyVaeEncoder,
  ensureTinyModel,
  TINY_SEED,
  tinyModelFolderName,
  writeTinyModelFolder,
} from "../../../../pipelines/sd/tiny/index.ts";
import { ClipTokenizer } from "../../../../pipelines/sd/clip-tokenizer.ts";

const ENTRY = join(import.meta.dir, "../../../../pipelines/sd/tiny/index.ts");

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((p) => statSync(join(dir, p)).isFile())
    .sort();
}

const scratch = mkdtempSync(join(tmpdir(), "tiny-model-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the tiny model folder", () => {
  describe("when written twice for tiny-controlnet", () => {
    const first = join(scratch, "first");
    const second = join(scratch, "second");
    beforeAll(async () => {
      await writeTinyModelFolder(first, "tiny-controlnet");
      await writeTinyModelFolder(second, "tiny-controlnet");
    });

    test("holds the optimum layout with configs, the tokenizer, a UNet with external data and the ControlNet", () => {
      expect(listFiles(first)).toEqual([
        "controlnet/config.json",
        "controlnet/model.onnx",
        "latentloom_tiny.json",
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.onnx",
        "tokenizer/merges.txt",
        "tokenizer/special_tokens_map.json",
        "tokenizer/tokenizer_config.json",
        "tokenizer/vocab.json",
        "unet/config.json",
        "unet/model.onnx",
        "unet/model.onnx_data",
        "vae_decoder/config.json",
        "vae_decoder/model.onnx",
        "vae_encoder/config.json",
        "vae_encoder/model.onnx",
      ]);
      expect(statSync(join(first, "unet/model.onnx_data")).size).toBeGreaterThan(10 * statSync(join(first, "unet/model.onnx")).size);
    });

    test("is byte-identical", () => {
      for (const file of listFiles(first)) {
        expect({ file, same: readFileSync(join(first, file)).equals(readFileSync(join(second, file))) }).toEqual({ file, same: true });
      }
    });

    test("has an SD 1.x-like DDIM scheduler config and the VAE scaling factor", () => {
      const scheduler = JSON.parse(readFileSync(join(first, "scheduler/scheduler_config.json"), "utf8"));
      expect(scheduler).toMatchObject({
        _class_name: "DDIMScheduler",
        beta_schedule: "scaled_linear",
        beta_start: 0.00085,
        beta_end: 0.012,
        steps_offset: 1,
        prediction_type: "epsilon",
        clip_sample: false,
        set_alpha_to_one: false,
      });
      for (const vae of ["vae_encoder", "vae_decoder"]) {
        expect(JSON.parse(readFileSync(join(first, vae, "config.json"), "utf8")).scaling_factor).toBe(0.18215);
      }
      const index = JSON.parse(readFileSync(join(first, "model_index.json"), "utf8"));
      expect(index.controlnet).toEqual(["diffusers", "ControlNetModel"]);
      expect(index.unet).toEqual(["diffusers", "UNet2DConditionModel"]);
    });

    test("has a tokenizer that loads, pads with <|endoftext|> and fits the text encoder's vocabulary", async () => {
      const tokenizer = await ClipTokenizer.load(join(first, "tokenizer"));
      const config = JSON.parse(readFileSync(join(first, "text_encoder/config.json"), "utf8"));
      expect(tokenizer.padId).toBe(tokenizer.eosId);
      expect(tokenizer.eosId).toBe(config.vocab_size - 1);
    });

    test("loads every model in ONNX Runtime from its path", () => {
      for (const component of ["text_encoder", "unet", "vae_encoder", "vae_decoder", "controlnet"]) {
        using session = Session.create(join(first, component, "model.onnx"));
        expect(session.outputs.length).toBeGreaterThan(0);
      }
    });
  });

  test("the per-component builders are deterministic and seed-dependent", () => {
    for (const build of [buildTinyTextEncoder, buildTinyVaeEncoder, buildTinyVaeDecoder, buildTinyControlNet]) {
      expect(Buffer.from(build()).equals(Buffer.from(build(TINY_SEED)))).toBe(true);
      expect(Buffer.from(build(7)).equals(Buffer.from(build()))).toBe(false);
    }
    expect(Buffer.from(buildTinyUnet()).equals(Buffer.from(buildTinyUnet()))).toBe(true);
  });

  test("is named after the variant and a hash of builder version and seed", () => {
    expect(tinyModelFolderName("tiny")).toMatch(/^tiny-[0-9a-f]{12}$/);
    expect(tinyModelFolderName("tiny-controlnet")).toBe(tinyModelFolderName("tiny").replace("tiny-", "tiny-controlnet-"));
    expect(tinyModelFolderName("tiny", 7)).not.toBe(tinyModelFolderName("tiny"));
  });
});

describe("ensureTinyModel", () => {
  test("returns the same cached folder on every call", async () => {
    const dir = await ensureTinyModel();
    expect(dir.endsWith(tinyModelFolderName("tiny"))).toBe(true);
    expect(await ensureTinyModel("tiny")).toBe(dir);
    expect(listFiles(dir)).toContain("unet/model.onnx_data");
  });

  test("refuses an unknown variant, naming the valid ones", () => {
    expect(() => ensureTinyModel("large" as "tiny")).toThrow(/unknown tiny model variant "large"; valid: tiny, tiny-controlnet/);
  });

  test("builds once into place when several processes ask at the same time", async () => {
    const cache = join(scratch, "cache");
    const code = `const { ensureTinyModel } = await import(${JSON.stringify(ENTRY)}); console.log(await ensureTinyModel());`;
    const spawn = () =>
      Bun.spawn([process.execPath, "-e", code], { env: { ...process.env, LATENTLOOM_CACHE: cache }, stdout: "pipe", stderr: "pipe" });
    const children = [spawn(), spawn(), spawn()];
    const results = await Promise.all(
      children.map(async (child) => ({ out: (await new Response(child.stdout).text()).trim(), err: await new Response(child.stderr).text(), code: await child.exited })),
    );
    const expected = join(cache, "models", tinyModelFolderName("tiny"));
    for (const r of results) expect(r).toEqual({ out: expected, err: "", code: 0 });
    expect(readdirSync(join(cache, "models"))).toEqual([tinyModelFolderName("tiny")]);
    expect(listFiles(expected)).toContain("unet/model.onnx_data");
  });
});
