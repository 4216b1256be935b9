/**
 * The `tiny-video` model folder: the same bytes from the same seed, the layout docs/video-models.md
 * describes, resolved by name, and a video UNet whose I/O is VideoCrafter's.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "../../../../ffi/ort/index.ts";
import { resolveModelDir, TINY_SEED, tinyModelFolderName } from "../../../../pipelines/sd/tiny/index.ts";
import { writeTinyVideoModelFolder } from "../../../../pipelines/sd/tiny/video/folder.ts";

const scratch = mkdtempSync(join(tmpdir(), "tiny-video-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const files = (dir: string) =>
  readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((p) => statSync(join(dir, p)).isFile())
    .sort();

describe("the tiny-video folder", () => {
  const [first, second] = [join(scratch, "a"), join(scratch, "b")];
  beforeAll(async () => {
    await writeTinyVideoModelFolder(first, TINY_SEED);
    await writeTinyVideoModelFolder(second, TINY_SEED);
  });

  test("holds the text encoder, tokenizer, VAE, image encoder and a video UNet with external data", () => {
    expect(files(first)).toEqual([
      "image_encoder/config.json",
      "image_encoder/model.onnx",
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
  });

  test("is the same bytes when written twice", () => {
    for (const f of files(first)) expect({ f, same: Buffer.compare(readFileSync(join(first, f)), readFileSync(join(second, f))) }).toEqual({ f, same: 0 });
  });

  test("shares the tiny model's text encoder and VAE bytes", async () => {
    const tiny = await resolveModelDir("tiny");
    for (const f of ["text_encoder/model.onnx", "vae_decoder/model.onnx", "vae_encoder/model.onnx"]) {
      expect({ f, same: Buffer.compare(readFileSync(join(first, f)), readFileSync(join(tiny, f))) }).toEqual({ f, same: 0 });
    }
  });

  test("has a UNet taking sample [B, 4, T, h, w], per-frame int64 timesteps, fps and image tokens", () => {
    using session = Session.create(join(first, "unet", "model.onnx"));
    const io = (infos: typeof session.inputs) => infos.map((i) => `${i.name} ${i.dtype} [${i.dims.map((d, k) => (d >= 0 ? d : i.dimNames[k])).join(", ")}]`);
    expect(io(session.inputs)).toEqual([
      "sample f32 [batch_size, 4, frames, height, width]",
      "timestep i64 [batch_frames]",
      "encoder_hidden_states f32 [batch_size, sequence_length, 64]",
      "fps i64 [batch_size]",
      "image_embeds f32 [batch_size, image_tokens, 64]",
    ]);
    expect(io(session.outputs)).toEqual(["out_sample f32 [batch_size, 4, frames, height, width]"]);
  });

  test("resolves by name into its own cache folder", async () => {
    const dir = await resolveModelDir("tiny-video");
    expect(dir.endsWith(tinyModelFolderName("tiny-video"))).toBe(true);
    expect(tinyModelFolderName("tiny-video")).not.toBe(tinyModelFolderName("tiny").replace("tiny-", "tiny-video-"));
    expect(JSON.parse(readFileSync(join(dir, "latentloom_tiny.json"), "utf8")).variant).toBe("tiny-video");
  });
});
