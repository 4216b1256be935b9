import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelError } from "../../../pipelines/errors.ts";
import { readModelFolder } from "../../../pipelines/sd/model-folder.ts";

const root = mkdtempSync(join(tmpdir(), "latentloom-folder-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder with empty placeholder files: readModelFolder checks layout, not contents. */
function folder(name: string, files: string[]): string {
  const dir = join(root, name);
  for (const f of files) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), f.endsWith(".json") ? "{}" : "");
  }
  return dir;
}

const complete = [
  "text_encoder/model.onnx",
  "unet/model.onnx",
  "vae_decoder/model.onnx",
  "vae_encoder/model.onnx",
  "tokenizer/vocab.json",
  "tokenizer/merges.txt",
];

describe("readModelFolder", () => {
  test("finds every component of an optimum-layout folder", () => {
    const dir = folder("complete", [...complete, "scheduler/scheduler_config.json"]);
    writeFileSync(join(dir, "vae_decoder/config.json"), JSON.stringify({ scaling_factor: 0.13025 }));
    const f = readModelFolder(dir);
    expect(f.unet).toBe(join(dir, "unet/model.onnx"));
    expect(f.vaeEncoder).toBe(join(dir, "vae_encoder/model.onnx"));
    expect(f.controlnet).toBeUndefined();
    expect(f.vaeScale).toBe(0.13025);
  });

  test("defaults the VAE scale to SD's 0.18215 when no config says otherwise", () => {
    expect(readModelFolder(folder("noconfig", complete)).vaeScale).toBe(0.18215);
  });

  test("a missing folder is one ModelError with a hint", () => {
    expect(() => readModelFolder(join(root, "nope"))).toThrow(new ModelError(`model folder ${join(root, "nope")} does not exist`));
  });

  test("a folder without vae_decoder names the missing file", () => {
    const dir = folder("novae", complete.filter((f) => !f.startsWith("vae_decoder")));
    expect(() => readModelFolder(dir)).toThrow(`${join(dir, "vae_decoder/model.onnx")} is missing: a model folder needs vae_decoder/model.onnx`);
  });

  test("a tokenizer folder without vocab or tokenizer.json is refused", () => {
    const dir = folder("notok", complete.filter((f) => !f.startsWith("tokenizer/vocab")));
    expect(() => readModelFolder(dir)).toThrow(/tokenizer is missing: expected vocab.json \+ merges.txt or tokenizer.json/);
  });

  test("a broken scheduler_config.json is a ModelError naming it", () => {
    const dir = folder("badsched", complete);
    mkdirSync(join(dir, "scheduler"));
    writeFileSync(join(dir, "scheduler/scheduler_config.json"), "{ nope");
    expect(() => readModelFolder(dir)).toThrow(/scheduler_config\.json is not valid JSON/);
  });
});
