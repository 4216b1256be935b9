/**
 * The bad-input matrix of every recipe: each mistake is exactly one `error: …` line on stderr
 * (plus an optional `hint:` line), exit code 1 (bad data) or 2 (bad usage), no stack trace,
 * nothing on stdout, and no hang (each run is killed after 60 s).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng } from "../../pipelines/io/png-files.ts";
import { resolveModelDir } from "../../pipelines/sd/tiny/index.ts";

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

/** The real tiny model, copied, with its UNet cut off halfway through the file. */
async function truncatedUnetCopy(): Promise<string> {
  const dir = join(tmp, "tiny-copy");
  cpSync(await resolveModelDir("tiny"), dir, { recursive: true });
  const unet = join(dir, "unet", "model.onnx");
  const bytes = readFileSync(unet);
  writeFileSync(unet, bytes.subarray(0, bytes.length >> 1));
  return dir;
}

const file = (name: string, content: string | Uint8Array) => {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
};

const y4m = (header: string, payload = "FRAME\n") => `YUV4MPEG2 ${header}\n${payload}`;
/** A whole C444 y4m clip of `n` flat frames. */
const y4mClip = (w: number, h: number, n: number) => y4m(`W${w} H${h} F25:1 C444`, ("FRAME\n" + "x".repeat(3 * w * h)).repeat(n));
const fullPng = encodePng({ width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).fill(200) });

async function recipe(name: string, args: string[], stdin?: string) {
  const out = args.includes("--out") ? [] : ["--out", join(tmp, "out.png")];
  await using proc = Bun.spawn([process.execPath, "run", join(root, "recipes", `${name}.ts`), ...args, ...out], {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 60_000,
  });
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.text(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

type Case = [what: string, recipe: string, args: string[], message: RegExp, code: 1 | 2, stdin?: string];

const fixtures: Record<string, () => string | Promise<string>> = {
  "@no-vae": () => fakeModel("no-vae", "no-vae-decoder"),
  "@corrupt": () => fakeModel("corrupt", "corrupt-onnx"),
  "@truncated-unet": truncatedUnetCopy,
  "@bad-yaml": () => file("bad.yaml", "steps: [1, 2\nprompt: x\n"),
  "@typed-yaml": () => file("typed.yaml", "steps: many\n"),
  "@unknown-yaml": () => file("unknown.yaml", "stepz: 3\n"),
  "@list-yaml": () => file("list.yaml", "- steps\n- 3\n"),
  "@truncated-y4m": () => file("truncated.y4m", y4m("W64 H64 F25:1", "FRAME\nabc")),
  "@odd-y4m": () => file("odd.y4m", y4m("W63 H65 F25:1 C420jpeg", "FRAME\n" + "x".repeat(100))),
  "@c444-y4m": () => file("c444.y4m", y4m("W16 H16 C444", "FRAME\n" + "x".repeat(700))),
  "@mono-y4m": () => file("mono.y4m", y4m("W16 H16 Cmono", "FRAME\n" + "x".repeat(200))),
  "@zero-y4m": () => file("zero.y4m", y4m("W64 H64 F25:1", "")),
  "@garbage-checkpoint": () => file("garbage.fifo-queue", "not a queue at all"),
  "@made-mp4": () => file("made.mp4", "the frames of the run before"),
  "@resume-folder": () => join(tmp, "resumed") + "/",
  "@garbage-png": () => file("garbage.png", "this is not a png"),
  "@truncated-png": () => file("truncated.png", fullPng.subarray(0, fullPng.length - 20)),
  "@clip-16x16x3": () => file("clip16x3.y4m", y4mClip(16, 16, 3)),
  "@clip-16x16x2": () => file("clip16x2.y4m", y4mClip(16, 16, 2)),
  "@clip-24x16x3": () => file("clip24x3.y4m", y4mClip(24, 16, 3)),
  "@clip-20x12x2": () => file("clip20x12x2.y4m", y4mClip(20, 12, 2)),
  "@empty-folder": () => {
    mkdirSync(join(tmp, "empty"), { recursive: true });
    return join(tmp, "empty");
  },
};

const cases: Case[] = [
  // txt2img: models, flags, configs
  ["a missing model folder", "txt2img", ["--model", "/nonexistent/sd"], /^error: model folder \/nonexistent\/sd does not exist$/m, 1],
  ["a model folder missing vae_decoder", "txt2img", ["--model", "@no-vae"], /^error: .*vae_decoder\/model\.onnx is missing/m, 1],
  ["a corrupt .onnx", "txt2img", ["--model", "@corrupt"], /^error: .*text_encoder\/model\.onnx: ONNX Runtime cannot load it: .*protobuf/im, 1],
  ["a copied model folder with a truncated UNet", "txt2img", ["--model", "@truncated-unet"], /^error: .*unet\/model\.onnx: /m, 1],
  ["an unknown flag", "txt2img", ["--stepz", "3"], /^error: unknown flag --stepz \(did you mean --steps\?\)$/m, 2],
  ["--steps 0", "txt2img", ["--steps", "0"], /^error: --steps 0: must be from 1 to 1000$/m, 2],
  ["--steps -3", "txt2img", ["--steps=-3"], /^error: --steps -3: must be from 1 to 1000$/m, 2],
  ["--steps nan", "txt2img", ["--steps", "nan"], /^error: --steps nan: expected a finite number$/m, 2],
  ["--steps 1e9", "txt2img", ["--steps", "1e9"], /^error: --steps 1e9: must be from 1 to 1000$/m, 2],
  ["--steps 2.5", "txt2img", ["--steps", "2.5"], /^error: --steps 2\.5: expected an integer$/m, 2],
  ["--num-inference-steps 0 (an alias)", "txt2img", ["--num-inference-steps", "0"], /^error: --num-inference-steps 0: must be from 1 to 1000$/m, 2],
  ["--size 100x100", "txt2img", ["--size", "100x100"], /^error: --size 100x100: width 100 is not a multiple of 8$/m, 2],
  ["--size 100000x100000", "txt2img", ["--size", "100000x100000"], /^error: --size 100000x100000: width 100000 is above the largest side, 8192$/m, 2],
  ["--size 64x48 (the tiny UNet halves twice)", "txt2img", ["--size", "64x48"],
    /^error: size 64x48: this UNet halves the latent 2 times, so both sides must be multiples of 32$/m, 2],
  ["--size 0x64", "txt2img", ["--size", "0x64"], /^error: --size 0x64: width 0 must be positive$/m, 2],
  ["--size big", "txt2img", ["--size", "big"], /^error: --size big: expected WxH/m, 2],
  ["--guidance nan", "txt2img", ["--guidance", "nan"], /^error: --guidance nan: expected a finite number$/m, 2],
  ["--guidance 1e6", "txt2img", ["--guidance", "1e6"], /^error: --guidance 1e6: must be from 0 to 100$/m, 2],
  ["--seed -1", "txt2img", ["--seed=-1"], /^error: --seed -1: must be at least 0$/m, 2],
  ["--images 0", "txt2img", ["--images", "0"], /^error: --images 0: must be at least 1$/m, 2],
  ["an unknown scheduler", "txt2img", ["--scheduler", "heun"], /^error: --scheduler heun: must be one of ddim, /m, 2],
  ["an unknown device", "txt2img", ["--device", "tpu"], /^error: unknown device "tpu"/m, 2],
  ["an unknown output kind", "txt2img", ["--out", "x.xyz"], /^error: unknown output "x\.xyz"/m, 2],
  ["an output folder that cannot be made", "txt2img", ["--out", "/proc/nope/x.y4m"], /^error: cannot create output folder \/proc\/nope: ENOENT$/m, 1],
  ["an unreadable --config", "txt2img", ["--config", "/nonexistent/c.yaml"], /^error: --config \/nonexistent\/c\.yaml: /m, 2],
  ["a YAML syntax error", "txt2img", ["--config", "@bad-yaml"], /^error: --config .*bad\.yaml: not valid YAML/m, 2],
  ["a YAML value of the wrong type", "txt2img", ["--config", "@typed-yaml"], /^error: .*typed\.yaml: steps = "many": expected an integer, got a string$/m, 2],
  ["an unknown YAML key", "txt2img", ["--config", "@unknown-yaml"], /^error: .*unknown\.yaml: unknown key stepz \(did you mean steps\?\)$/m, 2],
  ["a YAML list instead of a mapping", "txt2img", ["--config", "@list-yaml"], /^error: --config .*list\.yaml: expected a mapping of keys to values, got a list$/m, 2],
  // img2img: frame streams and images
  ["a y4m header with no width", "img2img", ["--input", "-"], /^error: y4m header: missing width \(W\)/m, 1, "YUV4MPEG2 H64 F25:1 C444\nFRAME\n"],
  ["garbage on stdin", "img2img", ["--input", "-"], /^error: stdin is neither y4m .* nor ppm/m, 1, "garbage garbage garbage"],
  ["a truncated y4m", "img2img", ["--input", "@truncated-y4m"], /^error: y4m stream truncated in frame 1/m, 1],
  ["a truncated y4m with odd dimensions", "img2img", ["--input", "@odd-y4m"], /^error: y4m stream truncated in frame 1/m, 1],
  ["a truncated C444 y4m", "img2img", ["--input", "@c444-y4m"], /^error: y4m stream truncated in frame 1/m, 1],
  ["a truncated mono y4m", "img2img", ["--input", "@mono-y4m"], /^error: y4m stream truncated in frame 1/m, 1],
  ["a y4m with zero frames", "img2img", ["--input", "@zero-y4m"], /^error: .*zero\.y4m holds no frames$/m, 1],
  ["an unknown y4m colour space", "img2img", ["--input", "-"], /^error: y4m header: unsupported colour space "C411"/m, 1, "YUV4MPEG2 W8 H8 C411\nFRAME\n"],
  ["a missing input file", "img2img", ["--input", "/nonexistent/in.png"], /^error: input not found: \/nonexistent\/in\.png$/m, 1],
  ["a .png that is not a PNG", "img2img", ["--input", "@garbage-png"], /^error: .*garbage\.png: not a readable PNG/m, 1],
  ["a truncated PNG", "img2img", ["--input", "@truncated-png"], /^error: .*truncated\.png: not a readable PNG/m, 1],
  ["an empty PNG folder", "img2img", ["--input", "@empty-folder"], /^error: no \.png files in folder /m, 1],
  ["--strength 0", "img2img", ["--strength", "0"], /^error: --strength 0: must be from 0\.01 to 1$/m, 2],
  ["--strength 2", "img2img", ["--strength", "2"], /^error: --strength 2: must be from 0\.01 to 1$/m, 2],
  // latent-blend
  ["a single prompt", "latent-blend", ["--prompts", "one"], /^error: --prompts: needs at least 2 items, got 1/m, 2],
  ["a depth that injects at step 0", "latent-blend", ["--depth-strength", "0.01"], /^error: .*depth_strength/m, 2],
  ["an unknown quality preset", "latent-blend", ["--quality", "best"], /^error: --quality best: must be one of lowest, /m, 2],
  ["--fps 0", "latent-blend", ["--fps", "0"], /^error: --fps 0: must be at least 1$/m, 2],
  ["--size 100000x100000", "latent-blend", ["--size", "100000x100000"], /^error: --size 100000x100000: width 100000 is above/m, 2],
  ["--steps 1 (the tree needs two)", "latent-blend", ["--steps", "1"], /^error: --steps 1: must be from 2 to 1000$/m, 2],
  ["a mask file that does not exist", "latent-blend", ["--mask", "/nonexistent/mask.png"], /^error: .*\/nonexistent\/mask\.png/m, 1],
  ["a mask that is not a PNG", "latent-blend", ["--mask", "@garbage-png"], /^error: .*garbage\.png: not a readable PNG/m, 1],
  ["a truncated mask", "latent-blend", ["--mask", "@truncated-png"], /^error: .*truncated\.png: not a readable PNG/m, 1],
  ["a missing --image1", "latent-blend", ["--image1", "/nonexistent/a.png"], /^error: .*\/nonexistent\/a\.png/m, 1],
  ["a missing upscaler folder", "latent-blend", ["--upscale", "--upscale-model", "/nonexistent/up"], /^error: .*\/nonexistent\/up/m, 1],
  // attention-interp
  ["a model without a ControlNet", "attention-interp", ["--model", "tiny"], /^error: model tiny has no controlnet\/model\.onnx/m, 2],
  ["an unknown blend scheduler", "attention-interp", ["--unet-scheduler", "step"], /^error: --unet-scheduler step: must be one of ema, cos, linear$/m, 2],
  ["an ema above 1", "attention-interp", ["--unet-ema", "2"], /^error: --unet-ema 2: must be from 0 to 1$/m, 2],
  ["an unknown UNet part", "attention-interp", ["--unet-allow-names", "sideways"], /^error: --unet-allow-names sideways: must be one of down, mid, up$/m, 2],
  ["the depth processor without a depth model", "attention-interp", ["--controlnet-processor", "depth"], /^error: .*depth/m, 2],
  ["a missing input video", "attention-interp", ["--input", "/nonexistent/in.mp4"], /^error: input not found: \/nonexistent\/in\.mp4$/m, 1],
  ["garbage on stdin", "attention-interp", ["--input", "-"], /^error: stdin is neither y4m .* nor ppm/m, 1, "garbage garbage garbage"],
  ["a y4m with zero frames", "attention-interp", ["--input", "@zero-y4m"], /^error: .*zero\.y4m holds no frames$/m, 1],
  // deflicker
  ["a guide of another size", "deflicker", ["--input", "@clip-16x16x3", "--guide", "@clip-24x16x3", "--window", "1"],
    /^error: the guide is 24x16 but the video is 16x16$/m, 2],
  ["a guide shorter than the video", "deflicker", ["--input", "@clip-16x16x3", "--guide", "@clip-16x16x2", "--window", "1"],
    /^error: the guide ended after 2 frames but the video goes on$/m, 1],
  ["a window longer than the clip", "deflicker", ["--input", "@clip-16x16x3", "--window", "5"], /^error: window 5 is larger than the clip: 3 frames/m, 2],
  ["a y4m with zero frames", "deflicker", ["--input", "@zero-y4m"], /^error: .*zero\.y4m holds no frames$/m, 1],
  ["an even patch size", "deflicker", ["--input", "@clip-16x16x3", "--patch-size", "4"], /^error: patch size 4 must be an odd integer/m, 2],
  ["an unknown mode", "deflicker", ["--mode", "median"], /^error: --mode median: must be one of fast, balanced, /m, 2],
  ["offsets outside the ebsynth mode", "deflicker", ["--offsets", "1", "--offsets=-1"], /^error: offsets are for the ebsynth mode, not fast$/m, 2],
  ["garbage on stdin", "deflicker", ["--input", "-"], /^error: stdin is neither y4m .* nor ppm/m, 1, "garbage garbage garbage"],
  // fifo
  ["fewer frames than the queue holds", "fifo", ["--frames", "10"],
    /^error: --frames 10 is fewer than the FIFO queue holds: 20 latents \(2 partitions × 8 frames \+ 4 lookahead\)$/m, 2],
  ["an image UNet (no per-frame timesteps)", "fifo", ["--model", "tiny"], /^error: .*unet\/model\.onnx has no per-frame timestep input: timestep f32 \[\]/m, 1],
  ["a corrupt checkpoint on --resume", "fifo", ["--resume", "--checkpoint", "@garbage-checkpoint", "--out", "@resume-folder"],
    /^error: checkpoint .*garbage\.fifo-queue is corrupt: it is not a FIFO queue checkpoint$/m, 1],
  ["--resume with no checkpoint", "fifo", ["--resume", "--out", "@resume-folder"], /^error: --resume: no checkpoint at .*resumed\.fifo-queue$/m, 2],
  ["--resume into a file the first frames are in", "fifo", ["--resume", "--checkpoint", "@garbage-checkpoint", "--out", "@made-mp4"],
    /^error: --resume would overwrite .*made\.mp4, which holds the frames made before the checkpoint$/m, 2],
  ["--size 64x48 (the tiny video UNet halves twice)", "fifo", ["--size", "64x48"],
    /^error: size 64x48: this UNet halves the latent 2 times, so both sides must be multiples of 32$/m, 2],
  ["an odd video length with lookahead", "fifo", ["--video-length", "5"], /^error: video_length 5 is odd/m, 2],
  ["a prompt schedule without lengths", "fifo", ["--prompts", "a", "--prompts", "b"], /^error: prompt_frames needs 1 lengths for 2 prompts/m, 2],
  ["a missing --image", "fifo", ["--image", "/nonexistent/a.png"], /^error: input not found: \/nonexistent\/a\.png$/m, 1],
  // stylize
  ["a combine pattern without the frame itself", "stylize", ["--combine-pattern", "1, 2"], /^error: combine_pattern \[1, 2\] lacks 0, the frame itself/m, 2],
  ["a reference the pattern names but nobody gave", "stylize", ["--combine-pattern", "0, reference_0"],
    /^error: combine_pattern names reference_0 but 0 reference images are given/m, 2],
  ["more ControlNet scales than processors", "stylize", ["--controlnet-scale", "1", "--controlnet-scale", "2"],
    /^error: controlnet_scale has 2 entries but controlnet_processor has 1/m, 2],
  ["the shuffle processor without a style image", "stylize", ["--controlnet-processor", "shuffle"], /^error: controlnet_processor shuffle needs a style image/m, 2],
  ["a strength that leaves no step", "stylize", ["--steps", "3", "--strength", "0.2"], /^error: img2img_strength 0\.2 with 3 steps leaves no step to run/m, 2],
  ["--chunk 0", "stylize", ["--chunk", "0"], /^error: --chunk 0: must be from 1 to 100000/m, 2],
  ["a missing input video", "stylize", ["--input", "/nonexistent/in.mp4"], /^error: input not found: \/nonexistent\/in\.mp4$/m, 1],
  ["a y4m header and no frames on stdin", "stylize", ["--input", "-"], /^error: stdin holds no frames$/m, 1, "YUV4MPEG2 W64 H64 F12:1 C444\n"],
  // continue
  ["conditioning longer than a clip", "continue", ["--frames", "4", "--max-conditioning-frames", "5"],
    /^error: max_conditioning_frames 5 is longer than allowed: a clip has only 4 frames to carry$/m, 2],
  ["min conditioning above max", "continue", ["--min-conditioning-frames", "3", "--max-conditioning-frames", "2"],
    /^error: min_conditioning_frames 3 is more than max_conditioning_frames 2$/m, 2],
  ["a --size that is not the input's", "continue", ["--input", "@clip-16x16x3", "--size", "24x16"], /^error: --size 24x16 does not match the input's 16x16$/m, 2],
  ["a --size that is not the image's", "continue", ["--image", "@clip-16x16x3", "--size", "24x16"], /^error: --size 24x16 does not match the input's 16x16$/m, 2],
  ["both a video and an image", "continue", ["--input", "@clip-16x16x3", "--image", "@clip-24x16x3"], /^error: give --input \(a video\) or --image, not both$/m, 2],
  ["a start whose sides are not multiples of 8", "continue", ["--input", "@clip-20x12x2"], /^error: the start is 20x12; both sides must be multiples of 8$/m, 2],
  ["a y4m with zero frames", "continue", ["--input", "@zero-y4m"], /^error: .*zero\.y4m holds no frames$/m, 1],
  ["--times 0", "continue", ["--times", "0"], /^error: --times 0: must be from 1 to 1000000$/m, 2],
  ["a checkpoint of another kind on --resume", "continue", ["--resume", "--checkpoint", "@garbage-checkpoint", "--out", "@resume-folder"],
    /^error: --resume: .*garbage\.fifo-queue is not a continuation checkpoint$/m, 1],
  ["--resume with no checkpoint", "continue", ["--resume", "--out", "@resume-folder"], /^error: --resume: no checkpoint at /m, 2],
  ["a video UNet without conditioning", "continue", ["--model", "tiny-video"], /^error: .*unet\/model\.onnx has no conditioning_hidden_states input/m, 1],
];

describe("recipes given bad input", () => {
  test("the matrix covers every recipe with at least 40 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    const recipes = readdirSync(join(root, "recipes")).filter((f) => f.endsWith(".ts")).map((f) => f.replace(/\.ts$/, ""));
    expect(new Set(cases.map((c) => c[1]))).toEqual(new Set(recipes));
  });

  for (const [what, name, args, message, code, stdin] of cases) {
    test(`${name} with ${what} prints one error line and exits ${code}`, async () => {
      const resolved = await Promise.all(args.map(async (a) => (fixtures[a] ? await fixtures[a]() : a)));
      const r = await recipe(name, resolved, stdin);
      expect(r.stderr).toMatch(message);
      const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("hint: "));
      expect(lines.filter((l) => l.startsWith("error: "))).toHaveLength(1);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stdout).toBe("");
      expect(r.exitCode).toBe(code);
    });
  }
});
