/**
 * recipes/deflicker.ts end to end: the built-in clip with no input, y4m on stdin to y4m on stdout
 * (less flicker than went in, frame for frame), a separate --guide, and the memory line.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ByteSink, Frame } from "../../pipelines/io/frame.ts";
import { openY4m } from "../../pipelines/io/y4m-reader.ts";
import { createY4mWriter } from "../../pipelines/io/y4m-writer.ts";
import { cleanFrame, flickerFrame, meanAbsDiff, temporalDiff } from "../../pipelines/stylize/index.ts";

const root = new URL("../../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "latentloom-deflicker-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function recipe(args: string[], stdin?: Uint8Array) {
  await using proc = Bun.spawn([process.execPath, "run", join(root, "recipes", "deflicker.ts"), ...args], {
    stdin: stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.bytes(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

async function y4m(frames: Frame[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const sink: ByteSink = { write: (b) => void parts.push(b.slice()) };
  const w = createY4mWriter(sink, { width: frames[0]!.width, height: frames[0]!.height, fps: { num: 12, den: 1 } });
  for (const f of frames) await w.write(f);
  await w.close();
  return Buffer.concat(parts);
}

async function decode(bytes: Uint8Array): Promise<Frame[]> {
  const stream = await openY4m((async function* () {
    yield bytes;
  })());
  const out: Frame[] = [];
  for await (const f of stream.frames) out.push(f);
  return out;
}

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
    expect((await decode(readFileSync(out))).length).toBe(6);
  });

  test("y4m in on stdin, y4m out on stdout: every frame, at least 1.8× less frame-to-frame change, closer to the clean clip", async () => {
    const input = await decode(await y4m(flickering)); // what the recipe sees, after the y4m round trip
    const { stdout, stderr, exitCode } = await recipe([...fast, "--out", "-"], await y4m(flickering));
    expect(exitCode).toBe(0);
    const out = await decode(stdout);
    expect(out.map((f) => [f.width, f.height])).toEqual(input.map(() => [size.width, size.height]));
    expect(temporalDiff(input) / temporalDiff(out)).toBeGreaterThan(1.8);
    const error = (v: Frame[]) => v.reduce((a, f, t) => a + meanAbsDiff(f, clean[t]!), 0) / n;
    expect(error(out)).toBeLessThan(error(input));
    expect(stderr).toContain(`${n} frames;`);
  });

  test("--guide matches by another video: the unflickered clip as guide changes the result", async () => {
    const video = join(tmp, "video.y4m"), guide = join(tmp, "guide.y4m");
    writeFileSync(video, await y4m(flickering));
    writeFileSync(guide, await y4m(clean));
    const self = await recipe([...fast, "--input", video, "--out", "-"]);
    const guided = await recipe([...fast, "--input", video, "--guide", guide, "--out", "-"]);
    expect([self.exitCode, guided.exitCode]).toEqual([0, 0]);
    expect((await decode(guided.stdout)).length).toBe(n);
    expect(Buffer.compare(Buffer.from(self.stdout), Buffer.from(guided.stdout))).not.toBe(0);
  });
});
