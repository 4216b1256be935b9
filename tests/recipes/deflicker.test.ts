/**
 * recipes/deflicker.ts end to end: the built-in clip with no input, y4m on stdin to y4m on stdout
 * (less flicker than went in, frame for frame), a separate --guide, and the memory line.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Frame } from "../../pipelines/io/frame.ts";
import { cleanFrame, flickerFrame, meanAbsDiff, temporalDiff } from "../../pipelines/stylize/index.ts";
import { decodeY4m, runRecipe, y4mBytes } from "./recipe-run.ts";

const tmp = mkdtempSync(join(tmpdir(), "latentloom-deflicker-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const recipe = (args: string[], stdin?: Uint8Array) => runRecipe("deflicker", args, stdin);

const n = 10;
const size = { width: 64, height: 48 };
const flickering = Array.from({ length: n }, (_, t) => flickerFrame(t, size));
const clean = Array.from({ length: n }, (_, t) => cleanFrame(t, size));
const fast = ["--window", "3", "--iterations", "2"];

describe("recipes/deflicker.ts", () => {
  test("with no input deflickers the built-in clip, says how much memory it holds, and writes the file", async () => {
    const out = join(tmp, "builtin.y4m");
    const { stderr, exitCode } = await recipe([...fast, "--frames", "6", "--out", out]);
    expect(exitCode).toBe(0);
    expect(stderr).toContain("no input: a built-in 6-frame flickering clip, 96x96");
    expect(stderr).toMatch(/holds at most [\d.]+ MiB \(4 frames, \d+ tables/);
    expect((await decodeY4m(readFileSync(out))).length).toBe(6);
  });

  test("y4m in on stdin, y4m out on stdout: every frame, at least 1.8× less frame-to-frame change, closer to the clean clip", async () => {
    const input = await decodeY4m(await y4mBytes(flickering)); // what the recipe sees, after the y4m round trip
    const { stdout, stderr, exitCode } = await recipe([...fast, "--out", "-"], await y4mBytes(flickering));
    expect(exitCode).toBe(0);
    const out = await decodeY4m(stdout);
    expect(out.map((f) => [f.width, f.height])).toEqual(input.map(() => [size.width, size.height]));
    expect(temporalDiff(input) / temporalDiff(out)).toBeGreaterThan(1.8);
    const error = (v: Frame[]) => v.reduce((a, f, t) => a + meanAbsDiff(f, clean[t]!), 0) / n;
    expect(error(out)).toBeLessThan(error(input));
    expect(stderr).toContain(`${n} frames;`);
  });

  test("--guide matches by another video: the unflickered clip as guide changes the result", async () => {
    const video = join(tmp, "video.y4m"), guide = join(tmp, "guide.y4m");
    writeFileSync(video, await y4mBytes(flickering));
    writeFileSync(guide, await y4mBytes(clean));
    const self = await recipe([...fast, "--input", video, "--out", "-"]);
    const guided = await recipe([...fast, "--input", video, "--guide", guide, "--out", "-"]);
    expect([self.exitCode, guided.exitCode]).toEqual([0, 0]);
    expect((await decodeY4m(guided.stdout)).length).toBe(n);
    expect(Buffer.compare(Buffer.from(self.stdout), Buffer.from(guided.stdout))).not.toBe(0);
  });
});
