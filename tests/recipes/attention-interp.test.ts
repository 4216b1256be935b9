/**
 * recipes/attention-interp.ts end to end: the built-in clip with no input, y4m on stdin and
 * stdout, the state estimate on stderr, the reference's keys in the config, mistakes as one line.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syntheticFrame } from "../../pipelines/attention-interpolation/synthetic-clip.ts";
import { findFfmpeg } from "../../pipelines/io/ffmpeg.ts";
import type { ByteSink } from "../../pipelines/io/frame.ts";
import { createY4mWriter } from "../../pipelines/io/y4m-writer.ts";
import { runRecipe } from "./recipe-run.ts";

const root = new URL("../../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "latentloom-attention-interp-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const recipe = (args: string[], stdin?: Uint8Array) => runRecipe("attention-interp", args, stdin);

/** A y4m stream of `n` synthetic frames, as `ffmpeg -f yuv4mpegpipe` would send. */
async function y4m(n: number, width: number, height: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const sink: ByteSink = { write: (b) => void parts.push(b.slice()) };
  const w = createY4mWriter(sink, { width, height, fps: { num: 10, den: 1 } });
  for (let i = 0; i < n; i++) await w.write(syntheticFrame(i, { frames: n, width, height }));
  await w.close();
  return Buffer.concat(parts);
}

const small = ["--size", "64x64", "--num-inference-steps", "3"];
const frameCount = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes).split("FRAME").length - 1;

describe("recipes/attention-interp.ts", () => {
  test("with no input makes the built-in clip, says so, prints the state estimate and writes the file", async () => {
    const out = join(tmp, "clip.y4m");
    const { stderr, exitCode } = await recipe([...small, "--frames", "2", "--out", out]);
    expect(exitCode).toBe(0);
    expect(stderr).toContain("no input: a built-in 2-frame clip");
    expect(stderr).toMatch(/state memory estimate: [\d.]+ MiB \(f32; unet probs/);
    // before the first frame: how many sites were hooked per kind, self vs cross (tiny-controlnet's
    // default set: self-attention probs at keys ≤ 32² and self-attention out in the UNet)
    expect(stderr).toMatch(/hooked unet: probs [1-9]\d* self \+ 0 cross, out [1-9]\d* self \+ 0 cross; controlnet: /);
    expect(stderr).toContain(`wrote ${out}`);
    const bytes = readFileSync(out);
    expect(new TextDecoder("latin1").decode(bytes.subarray(0, 22))).toBe("YUV4MPEG2 W256 H256 F8");
    expect(frameCount(bytes)).toBe(2);
  });

  test("reads y4m on stdin and streams y4m on stdout at the input's size, logs only on stderr", async () => {
    const { stdout, stderr, exitCode } = await recipe([...small, "--out", "-"], await y4m(3, 80, 48));
    expect(exitCode).toBe(0);
    const text = new TextDecoder("latin1").decode(stdout.subarray(0, 40));
    expect(text.startsWith("YUV4MPEG2 W80 H48 F10:1")).toBe(true);
    expect(frameCount(stdout)).toBe(3);
    expect(stderr).toContain("3 frames;");
  });

  test("--no-original-output-size keeps the generation size", async () => {
    const { stdout, exitCode } = await recipe([...small, "--no-original-output-size", "--input", "-", "--out", "-"], await y4m(2, 80, 48));
    expect(exitCode).toBe(0);
    expect(new TextDecoder("latin1").decode(stdout.subarray(0, 20)).startsWith("YUV4MPEG2 W64 H64")).toBe(true);
  });

  const ffmpeg = findFfmpeg();
  if (!ffmpeg) console.warn("skipping the mp4 round trip: no ffmpeg (system or @ffmpeg-installer)");
  test.skipIf(!ffmpeg)("ffmpeg -f yuv4mpegpipe - | recipe --out - | ffmpeg -i - out.mp4 works", async () => {
    const input = join(tmp, "in.mp4");
    const enc = Bun.spawnSync([ffmpeg!, "-y", "-loglevel", "error", "-f", "yuv4mpegpipe", "-i", "-", input], { stdin: await y4m(3, 64, 64) });
    expect(enc.exitCode).toBe(0);
    const dec = Bun.spawnSync([ffmpeg!, "-loglevel", "error", "-i", input, "-f", "yuv4mpegpipe", "-"]);
    const run = await recipe([...small, "--out", "-"], dec.stdout);
    expect(run.exitCode).toBe(0);
    const output = join(tmp, "out.mp4");
    const mux = Bun.spawnSync([ffmpeg!, "-y", "-loglevel", "error", "-i", "-", output], { stdin: run.stdout });
    expect(mux.exitCode).toBe(0);
    const back = Bun.spawnSync([ffmpeg!, "-loglevel", "error", "-i", output, "-f", "yuv4mpegpipe", "-"]);
    expect(frameCount(back.stdout)).toBe(3);
  });

  test("a bad scheduler name is one error line naming the choices, exit 2", async () => {
    const { stderr, exitCode, stdout } = await recipe(["--unet-scheduler", "exp"]);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/unet.scheduler.*ema.*cos.*linear/);
    expect(stderr).not.toContain("    at ");
    expect(stdout.length).toBe(0);
  });

  test("the depth processor without a depth model is one error line naming the flag", async () => {
    const { stderr, exitCode } = await recipe([...small, "--controlnet-processor", "depth", "--out", join(tmp, "d.y4m")]);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/^error: .*depth.*--depth-model FILE/m);
  });

  test("an unknown key names itself", async () => {
    const { stderr, exitCode } = await recipe(["--unet-emma", "0.5"]);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/unet-emma/);
  });
});

test("configs/attention-interp.yaml carries the reference's defaults under flat keys", () => {
  const yaml = Bun.YAML.parse(readFileSync(join(root, "configs", "attention-interp.yaml"), "utf8")) as Record<string, unknown>;
  expect(yaml).toMatchObject({
    seed: 17, guess_mode: true, hist_normalize: "lab", original_output_size: true,
    pipe_ema: 0.35, pipe_eta: 0.75, pipe_scheduler: "ema", unet_ema: 0.625, unet_eta: 0.875,
    unet_attention_probs: true, unet_out_linear: true, unet_query: false, unet_attention_res: 32,
    unet_allow_names: ["down", "mid", "up"], controlnet_allow_names: ["down", "mid"], controlnet_out_linear: false,
    out: "out/attention-interp.mp4",
  });
});
