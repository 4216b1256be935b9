/**
 * The bad-input table of the txt2img/img2img recipes: each mistake is one `error: …` line on
 * stderr (plus an optional `hint:` line), a non-zero exit code, no stack trace, nothing on stdout.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "latentloom-bad-input-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A complete-looking model folder whose files are placeholders; `broken` picks what is wrong. */
function fakeModel(name: string, broken: "no-vae-decoder" | "corrupt-onnx"): string {
  const dir = join(tmp, name);
  for (const component of ["text_encoder", "unet", "vae_decoder", "vae_encoder", "tokenizer"]) {
    mkdirSync(join(dir, component), { recursive: true });
  }
  for (const component of ["text_encoder", "unet", "vae_encoder", "vae_decoder"]) {
    writeFileSync(join(dir, component, "model.onnx"), "this is not protobuf");
  }
  writeFileSync(join(dir, "tokenizer", "vocab.json"), JSON.stringify({ "<|startoftext|>": 0, "<|endoftext|>": 1 }));
  writeFileSync(join(dir, "tokenizer", "merges.txt"), "#version: 0.2\n");
  if (broken === "no-vae-decoder") rmSync(join(dir, "vae_decoder"), { recursive: true });
  return dir;
}

async function recipe(name: string, args: string[], stdin?: string) {
  await using proc = Bun.spawn([process.execPath, "run", join(root, "recipes", `${name}.ts`), ...args, "--out", join(tmp, "out.png")], {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.text(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

const cases: [string, string, string[], RegExp, number, string?][] = [
  ["a missing model folder", "txt2img", ["--model", "/nonexistent/sd"], /^error: model folder \/nonexistent\/sd does not exist$/m, 1],
  ["a model folder missing vae_decoder", "txt2img", ["--model", "@no-vae"], /^error: .*vae_decoder\/model\.onnx is missing/m, 1],
  ["a corrupt .onnx", "txt2img", ["--model", "@corrupt"], /^error: .*text_encoder\/model\.onnx: ONNX Runtime cannot load it: .*protobuf/im, 1],
  ["an unknown flag", "txt2img", ["--stepz", "3"], /^error: unknown flag --stepz \(did you mean --steps\?\)$/m, 2],
  ["--steps 0", "txt2img", ["--steps", "0"], /^error: --steps 0: must be from 1 to 1000$/m, 2],
  ["--size 100x100", "txt2img", ["--size", "100x100"], /^error: --size 100x100: width 100 is not a multiple of 8$/m, 2],
  ["--guidance nan", "txt2img", ["--guidance", "nan"], /^error: --guidance nan: expected a finite number$/m, 2],
  ["an unreadable --config", "txt2img", ["--config", "/nonexistent/c.yaml"], /^error: --config \/nonexistent\/c\.yaml: /m, 2],
  ["a y4m header with no width", "img2img", ["--input", "-"], /^error: y4m header: missing width \(W\)/m, 1, "YUV4MPEG2 H64 F25:1 C444\nFRAME\n"],
];

describe("recipes given bad input", () => {
  const models: Record<string, string> = {
    "@no-vae": fakeModel("no-vae", "no-vae-decoder"),
    "@corrupt": fakeModel("corrupt", "corrupt-onnx"),
  };
  for (const [what, name, args, message, code, stdin] of cases) {
    test(`${name} with ${what} prints one error line and exits ${code}`, async () => {
      const r = await recipe(name, args.map((a) => models[a] ?? a), stdin);
      expect(r.stderr).toMatch(message);
      const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("hint: "));
      expect(lines.filter((l) => l.startsWith("error: "))).toHaveLength(1);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stdout).toBe("");
      expect(r.exitCode).toBe(code);
    });
  }
});
