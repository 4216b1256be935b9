/**
 * recipes/fifo.ts end to end on tiny-video: frames streamed as y4m on stdout, and a run stopped
 * with Ctrl-C then `--resume`d into its PNG folder holding the uninterrupted run's pictures.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodePng } from "../../pipelines/io/png-files.ts";
import { openY4m } from "../../pipelines/io/y4m-reader.ts";

const root = new URL("../../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "latentloom-fifo-recipe-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL = ["--video-length", "4", "--partitions", "2", "--size", "64x32"];

function start(args: string[]) {
  return Bun.spawn([process.execPath, "run", join(root, "recipes", "fifo.ts"), ...SMALL, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
}

async function finish(proc: ReturnType<typeof start>) {
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.bytes(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

const pixels = (dir: string) => readdirSync(dir).sort().map((f) => Buffer.from(decodePng(readFileSync(join(dir, f))).data));

describe("recipes/fifo.ts", () => {
  test("--out - streams whole y4m frames of the asked size, as many as asked", async () => {
    const { stdout, stderr, exitCode } = await finish(start(["--frames", "12", "--out", "-"]));
    expect(exitCode).toBe(0);
    expect(stderr).toContain("queue of 10 (2 × 4 + lookahead), 8 steps, 4 windows in 1 UNet call(s) per frame");
    const stream = await openY4m((async function* () {
      yield stdout;
    })());
    expect([stream.meta.width, stream.meta.height, stream.meta.fps.num]).toEqual([64, 32, 10]);
    let frames = 0;
    for await (const frame of stream.frames) frames += frame.width === 64 && frame.height === 32 ? 1 : 0;
    expect(frames).toBe(12);
  });

  test("stopped with Ctrl-C and resumed, the PNG folder holds the pictures of the run that was not stopped", async () => {
    const frames = ["--frames", "150", "--checkpoint-every", "4"];
    const whole = join(tmp, "whole/");
    expect((await finish(start([...frames, "--out", whole]))).exitCode).toBe(0);
    expect(existsSync(join(tmp, "whole.fifo-queue"))).toBe(false); // a finished run leaves no checkpoint

    const stopped = join(tmp, "stopped/");
    const first = start([...frames, "--out", stopped]);
    const done = finish(first);
    while (!existsSync(stopped) || readdirSync(stopped).length < 9) await Bun.sleep(5);
    first.kill("SIGINT");
    const interrupted = await done;
    expect(interrupted.exitCode).toBe(130);
    expect(interrupted.stderr).toContain("--resume continues from the last checkpoint");
    expect(readdirSync(stopped).length).toBeLessThan(150);
    expect(existsSync(join(tmp, "stopped.fifo-queue"))).toBe(true);

    const resumed = await finish(start([...frames, "--out", stopped, "--resume"]));
    expect(resumed.exitCode).toBe(0);
    const at = Number(/resuming at frame (\d+) of 150/.exec(resumed.stderr)?.[1]);
    expect(at % 4).toBe(0);
    expect(at).toBeGreaterThanOrEqual(8);
    const [a, b] = [pixels(whole), pixels(stopped)];
    expect(b.length).toBe(150);
    expect(b.every((frame, i) => frame.equals(a[i]!))).toBe(true);
    expect(existsSync(join(tmp, "stopped.fifo-queue"))).toBe(false);
  });
});
