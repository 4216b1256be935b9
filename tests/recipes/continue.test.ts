/**
 * recipes/continue.ts end to end: no arguments (txt2img start, 3 clips), y4m on stdin to y4m on
 * stdout, --image, the join report, and bad input as one `error:` line with exit code 2.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Frame } from "../../pipelines/io/frame.ts";
import { decodePng } from "../../pipelines/io/png-files.ts";
import { decodeY4m, runRecipe, y4mBytes } from "./recipe-run.ts";

const root = new URL("../../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "latentloom-continue-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const recipe = (args: string[], stdin?: Uint8Array) => runRecipe("continue", args, stdin);

function gradient(t: number, width = 64, height = 48): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const [x, y] = [i % width, Math.floor(i / width)];
    data.set([(x * 3 + t * 4) & 255, (y * 4) & 255, 140], i * 3);
  }
  return { width, height, data };
}

const fast = ["--steps", "3", "--frames", "4", "--min-conditioning-frames", "1", "--max-conditioning-frames", "2"];
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("error:"));

describe("recipes/continue.ts", () => {
  test("with no input: a txt2img start on tiny, 3 clips of 8 frames, and the join report", async () => {
    const out = join(tmp, "default.y4m");
    const { stderr, exitCode } = await recipe(["--out", out]);
    expect(exitCode).toBe(0);
    expect(stderr).toContain("no input: the start image is txt2img on tiny at 128x96");
    expect(stderr).toContain("3 clips of 8 frames at 128x96");
    expect(stderr).toMatch(/at joins \d+\.\d\d \(2 pairs\), inside clips \d+\.\d\d \(21\)/);
    const frames = await decodeY4m(readFileSync(out));
    expect(frames.map((f) => `${f.width}x${f.height}`)).toEqual(Array(24).fill("128x96"));
  });

  test("y4m in on stdin, y4m out on stdout: times × frames new frames at the input's size", async () => {
    const input = await y4mBytes(Array.from({ length: 6 }, (_, t) => gradient(t)));
    const { stdout, stderr, exitCode } = await recipe([...fast, "--times", "2", "--out", "-"], input);
    expect(exitCode).toBe(0);
    expect(stderr).toContain("continuing stdin: its last 2 frame(s) condition the first clip");
    const frames = await decodeY4m(stdout);
    expect(frames.map((f) => `${f.width}x${f.height}`)).toEqual(Array(8).fill("64x48"));
  });

  test("--image continues a picture, and the video follows its size", async () => {
    const image = join(tmp, "picture.y4m");
    writeFileSync(image, await y4mBytes([gradient(0, 72, 40)]));
    const { stdout, exitCode } = await recipe([...fast, "--times", "1", "--image", image, "--out", "-"]);
    expect(exitCode).toBe(0);
    expect((await decodeY4m(stdout)).map((f) => `${f.width}x${f.height}`)).toEqual(Array(4).fill("72x40"));
  });

  test("stopped with Ctrl-C and resumed, the PNG folder holds the pictures of the run that was not stopped", async () => {
    const args = ["--steps", "4", "--frames", "4", "--times", "120", "--min-conditioning-frames", "1", "--max-conditioning-frames", "3"];
    const spawn = (extra: string[]) => Bun.spawn([process.execPath, "run", join(root, "recipes", "continue.ts"), ...args, ...extra], {
      stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" },
    });
    const finish = async (p: ReturnType<typeof spawn>) => ({ stderr: await p.stderr.text(), exitCode: await p.exited });
    const pixels = (dir: string) => readdirSync(dir).sort().map((f) => Buffer.from(decodePng(readFileSync(join(dir, f))).data));
    const whole = join(tmp, "whole/");
    expect((await finish(spawn(["--out", whole]))).exitCode).toBe(0);
    expect(existsSync(join(tmp, "whole.continue-state"))).toBe(false); // a finished run leaves no state

    const stopped = join(tmp, "stopped/");
    const first = spawn(["--out", stopped]);
    const done = finish(first);
    while (!existsSync(stopped) || readdirSync(stopped).length < 10) await Bun.sleep(5);
    first.kill("SIGINT");
    const interrupted = await done;
    expect(interrupted.exitCode).toBe(130);
    expect(interrupted.stderr).toMatch(/stopped after clip \d+: --resume continues from/);
    expect(readdirSync(stopped).length).toBeLessThan(480);

    const resumed = await finish(spawn(["--out", stopped, "--resume"]));
    expect(resumed.exitCode).toBe(0);
    const at = Number(/resuming at clip (\d+) of 120/.exec(resumed.stderr)?.[1]);
    expect(at).toBeGreaterThanOrEqual(2);
    const [a, b] = [pixels(whole), pixels(stopped)];
    expect(b.length).toBe(480);
    expect(b.every((frame, i) => frame.equals(a[i]!))).toBe(true);
    expect(existsSync(join(tmp, "stopped.continue-state"))).toBe(false);
  });

  describe("bad input: one error line, exit code 2", () => {
    const cases: [string, string[], RegExp][] = [
      ["conditioning longer than a clip", ["--frames", "4", "--max-conditioning-frames", "5"], /max_conditioning_frames 5 is longer than allowed/],
      ["min above max", ["--min-conditioning-frames", "3", "--max-conditioning-frames", "2"], /min_conditioning_frames 3 is more than max_conditioning_frames 2/],
      ["--size against the input's size", ["--image", "IMAGE", "--size", "64x64"], /--size 64x64 does not match the input's 64x48/],
      ["--resume without a checkpoint", ["--resume", "--out", join(tmp, "none.y4m")], /--resume: no checkpoint at/],
    ];
    for (const [what, args, message] of cases) {
      test(what, async () => {
        const image = join(tmp, "bad-picture.y4m");
        writeFileSync(image, await y4mBytes([gradient(0)]));
        const { stderr, exitCode } = await recipe(args.map((a) => (a === "IMAGE" ? image : a)));
        expect(exitCode).toBe(2);
        expect(errorLines(stderr)).toHaveLength(1);
        expect(errorLines(stderr)[0]).toMatch(message);
        expect(stderr).not.toContain("    at ");
      });
    }
  });
});
