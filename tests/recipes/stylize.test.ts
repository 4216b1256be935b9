/**
 * recipes/stylize.ts end to end on the tiny model: the built-in clip with no input, y4m on stdin
 * to y4m on stdout (every frame, at the generation size; the in-loop deflicker lowers the
 * frame-to-frame change against --no-smoother), and bad input as one `error:` line before any output.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flickerFrame, temporalDiff } from "../../pipelines/stylize/index.ts";
import { decodeY4m, runRecipe, y4mBytes } from "./recipe-run.ts";

const tmp = mkdtempSync(join(tmpdir(), "latentloom-stylize-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const recipe = (args: string[], stdin?: Uint8Array) => runRecipe("stylize", args, stdin);

describe("recipes/stylize.ts", () => {
  test("with no input stylises the built-in clip and writes every frame", async () => {
    const out = join(tmp, "builtin.y4m");
    const { stderr, exitCode } = await recipe(["--frames", "4", "--out", out]);
    expect(exitCode).toBe(0);
    expect(stderr).toContain("no input: a built-in 4-frame flickering clip, 64x64");
    expect(stderr).toMatch(/pattern \[-1, 0, 1\], ControlNet canny, smoother at steps \[0, 1, 2\]/);
    // chunk 8 + the 3 carried for the smoother window
    expect(stderr).toMatch(/holds 11 frames at a time and at most [\d.]+ MiB per smoothing/);
    expect((await decodeY4m(readFileSync(out))).map((f) => [f.width, f.height])).toEqual(Array(4).fill([64, 64]));
  });

  test("y4m in on stdin, y4m out on stdout; the in-loop deflicker lowers frame-to-frame change", async () => {
    // 72×64 in: centre-cropped to 64×64
    const input = await y4mBytes(Array.from({ length: 5 }, (_, t) => flickerFrame(t, { width: 72, height: 64 })));
    const on = await recipe(["--out", "-"], input);
    const off = await recipe(["--no-smoother", "--out", "-"], input);
    expect([on.exitCode, off.exitCode]).toEqual([0, 0]);
    const [a, b] = [await decodeY4m(on.stdout), await decodeY4m(off.stdout)];
    expect(a.map((f) => [f.width, f.height])).toEqual(Array(5).fill([64, 64]));
    expect(b.length).toBe(5);
    expect(temporalDiff(b) / temporalDiff(a)).toBeGreaterThan(1.5);
  });

  test("bad input is one error line with a non-zero exit, and no output file", async () => {
    const cases: [string[], RegExp, number][] = [
      [["--combine-pattern", "1, 2"], /^error: combine_pattern \[1, 2\] lacks 0/m, 2],
      [["--combine-pattern", "0, reference_0"], /^error: combine_pattern names reference_0 but 0 reference images are given/m, 2],
      [["--controlnet-scale", "1", "--controlnet-scale", "2"], /^error: controlnet_scale has 2 entries/m, 2],
      [["--controlnet-processor", "shuffle"], /^error: controlnet_processor shuffle needs a style image/m, 2],
      [["--steps", "3", "--strength", "0.2"], /^error: img2img_strength 0.2 with 3 steps leaves no step/m, 2],
    ];
    for (const [args, message, code] of cases) {
      const out = join(tmp, "bad.y4m");
      const r = await recipe([...args, "--out", out]);
      expect({ args, code: r.exitCode, errors: r.stderr.split("\n").filter((l) => l.startsWith("error:")).length }).toEqual({ args, code, errors: 1 });
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
    const empty = await recipe(["--out", join(tmp, "empty.y4m")], new TextEncoder().encode("YUV4MPEG2 W64 H64 F12:1 C444\n"));
    expect(empty.exitCode).not.toBe(0);
    expect(empty.stderr).toMatch(/^error: .*no frames/m);
  });
});
