/**
 * recipes/latent-blend.ts end to end: its first and last frames are byte-identical to what
 * recipes/txt2img.ts makes with the same model, prompt, seed, steps, scheduler, guidance and
 * size; `--out -` streams y4m; mistakes are one error line.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPngFile } from "../../pipelines/io/png-files.ts";

const root = new URL("../../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "latentloom-latent-blend-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function recipe(name: string, args: string[]) {
  await using proc = Bun.spawn([process.execPath, "run", join(root, "recipes", `${name}.ts`), ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.bytes(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

const common = ["--size", "64x64", "--scheduler", "euler"];
const prompts = ["a red fox in the snow", "a blue whale at dawn"];

describe("recipes/latent-blend.ts", () => {
  test("starts and ends on exactly txt2img's images", async () => {
    const blend = await recipe("latent-blend", [
      ...common, "--num-inference-steps", "5", "--guidance-scale", "6", "--seed", "21",
      "--prompts", prompts[0]!, "--prompts", prompts[1]!, "--fps", "4", "--duration", "1", "--max-branches", "3", "--out", join(tmp, "frames/"),
    ]);
    expect(blend.stderr).toContain(`wrote ${join(tmp, "frames/")}`);
    expect(blend.exitCode).toBe(0);
    const first = await recipe("txt2img", [...common, "--steps", "5", "--guidance", "6", "--seed", "21", "--prompt", prompts[0]!, "--out", join(tmp, "first.png")]);
    const last = await recipe("txt2img", [...common, "--steps", "5", "--guidance", "6", "--seed", "22", "--prompt", prompts[1]!, "--out", join(tmp, "last.png")]);
    expect([first.exitCode, last.exitCode]).toEqual([0, 0]);
    const frames = ["00001.png", "00002.png", "00003.png", "00004.png"].map((f) => join(tmp, "frames", f));
    const [b0, bN, t0, tN] = await Promise.all([readPngFile(frames[0]!), readPngFile(frames[3]!), readPngFile(join(tmp, "first.png")), readPngFile(join(tmp, "last.png"))]);
    expect(Buffer.compare(b0.data, t0.data)).toBe(0);
    expect(Buffer.compare(bN.data, tN.data)).toBe(0);
    expect(Buffer.compare(b0.data, bN.data)).not.toBe(0);
  });

  test("--out - streams y4m frames on stdout and logs only on stderr", async () => {
    const { stdout, stderr, exitCode } = await recipe("latent-blend", [...common, "--num-inference-steps", "4", "--depth-strength", "0.5", "--fps", "3", "--duration", "1", "--max-branches", "3", "--out", "-"]);
    expect(exitCode).toBe(0);
    const text = new TextDecoder("latin1").decode(stdout);
    expect(text.startsWith("YUV4MPEG2 W64 H64 F3:1")).toBe(true);
    expect(text.split("FRAME").length - 1).toBe(3);
    expect(stderr).toContain("3 frames; 2 keyframes, 1 in-betweens");
  });

  test("a depth that injects at step 0 is one error line and exit code 2", async () => {
    const { stdout, stderr, exitCode } = await recipe("latent-blend", [...common, "--num-inference-steps", "4", "--depth-strength", "0.1", "--out", join(tmp, "x.y4m")]);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/^error: injection step 0 .*below 1.*\nhint: raise depth_strength to at least 0\.250\n$/m);
    expect(stderr).not.toContain("    at ");
    expect(stdout.length).toBe(0);
  });

  test("an unknown config key names itself", async () => {
    const { stderr, exitCode } = await recipe("latent-blend", ["--deph-strength", "0.4"]);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/deph-strength/);
  });
});

// Keep the on-disk config and the schema's defaults in step.
test("configs/latent-blend.yaml parses and names only known keys", () => {
  const yaml = Bun.YAML.parse(readFileSync(join(root, "configs", "latent-blend.yaml"), "utf8")) as Record<string, unknown>;
  expect(yaml.steps).toBe(12);
  expect(yaml.out).toBe("out/latent-blend.mp4");
});
