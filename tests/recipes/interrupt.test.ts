/**
 * SIGINT and SIGTERM in the middle of a run leave every finished frame valid: y4m holds whole
 * frames only, a PNG sequence holds complete files and no temporary ones, an mp4 is finalised
 * (ffmpeg got a clean end of input and no ffmpeg is left running), and the exit code is 130 / 143.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFfmpeg } from "../../pipelines/io/ffmpeg.ts";
import { decodePng } from "../../pipelines/io/png-files.ts";
import { parseY4mHeader } from "../../pipelines/io/y4m-header.ts";

const recipe = new URL("../../recipes/txt2img.ts", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "latentloom-interrupt-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SIDE = 64;
const STEPS = 2;

/** Starts 200 images, sends `signal` once three are finished, and waits for the exit. */
async function interrupted(out: string, signal: "SIGINT" | "SIGTERM") {
  const args = ["--images", "200", "--size", `${SIDE}x${SIDE}`, "--steps", String(STEPS), "--progress", "json", "--out", out];
  const proc = Bun.spawn([process.execPath, "run", recipe, ...args], { stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  const lines: string[] = [];
  const decoder = new TextDecoder();
  let sent = false;
  let rest = "";
  for await (const chunk of proc.stderr) {
    rest += decoder.decode(chunk, { stream: true });
    const parts = rest.split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (!sent && line.startsWith("{") && JSON.parse(line).done >= 3 * STEPS) {
        proc.kill(signal);
        sent = true;
      }
    }
  }
  const exitCode = await proc.exited;
  const done = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l).done as number);
  return { exitCode, sent, stepsDone: Math.max(...done), stderr: lines.join("\n") };
}

describe("an interrupted txt2img", () => {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    test(`${signal} on a y4m file: exit ${code}, only whole frames, fewer than asked`, async () => {
      const out = join(tmp, `${signal}.y4m`);
      const r = await interrupted(out, signal);
      expect({ sent: r.sent, exitCode: r.exitCode }).toEqual({ sent: true, exitCode: code });
      const bytes = readFileSync(out);
      const headerEnd = bytes.indexOf(0x0a) + 1;
      const header = parseY4mHeader(bytes.subarray(0, headerEnd - 1).toString("latin1"));
      expect([header.width, header.height]).toEqual([SIDE, SIDE]);
      const frameBytes = "FRAME\n".length + (SIDE * SIDE * 3) / 2;
      const frames = (bytes.length - headerEnd) / frameBytes;
      expect(Number.isInteger(frames)).toBe(true);
      expect(frames).toBeGreaterThanOrEqual(3);
      expect(frames).toBeLessThan(200);
    });
  }

  test("SIGINT on a PNG folder: complete PNGs numbered from 1, no temporary files", async () => {
    const dir = join(tmp, "frames/");
    const r = await interrupted(dir, "SIGINT");
    expect(r.exitCode).toBe(130);
    const names = readdirSync(dir).sort();
    expect(names.length).toBeGreaterThanOrEqual(3);
    expect(names.length).toBeLessThan(200);
    expect(names).toEqual(names.map((_, i) => `${String(i + 1).padStart(5, "0")}.png`));
    for (const n of names) expect(decodePng(readFileSync(join(dir, n)), n).width).toBe(SIDE);
  });

  const ffmpeg = findFfmpeg();
  test.skipIf(ffmpeg === null)("SIGTERM on an mp4: a finalised file that decodes to every finished frame, no ffmpeg left", async () => {
    const out = join(tmp, "video.mp4");
    const r = await interrupted(out, "SIGTERM");
    expect(r.exitCode).toBe(143);
    expect(existsSync(out)).toBe(true);
    await using probe = Bun.spawn([ffmpeg!, "-v", "error", "-i", out, "-f", "framemd5", "-"], { stdout: "pipe", stderr: "pipe" });
    const [listing, errors, probeExit] = await Promise.all([probe.stdout.text(), probe.stderr.text(), probe.exited]);
    expect({ probeExit, errors }).toEqual({ probeExit: 0, errors: "" });
    const frames = listing.split("\n").filter((l) => /^\d/.test(l)).length;
    expect(frames).toBeGreaterThanOrEqual(3);
    expect(frames).toBeLessThan(200);
    const left = Bun.spawnSync(["pgrep", "-f", out]).stdout.toString().trim();
    expect(left).toBe("");
  });
  if (ffmpeg === null) console.log("interrupt: skipping the mp4 case: no ffmpeg on PATH and no @ffmpeg-installer binary");
});

/**
 * Every video recipe, run long, stopped with SIGINT once its first frames are on disk: exit 130 and
 * a y4m of whole frames, fewer than asked. The runs are sized to take many seconds, so the signal
 * lands mid-run.
 */
const VIDEO_RECIPES: [name: string, args: string[], asked: number][] = [
  ["deflicker", ["--frames", "400", "--window", "2", "--iterations", "1"], 400],
  ["attention-interp", ["--frames", "400", "--size", "64x64", "--steps", "2"], 400],
  ["latent-blend", ["--size", "64x64", "--steps", "4", "--duration", "60", "--fps", "24"], 1440],
  ["fifo", ["--frames", "2000", "--video-length", "4", "--size", "64x32"], 2000],
  ["stylize", ["--frames", "400", "--chunk", "2", "--steps", "2"], 400],
  ["continue", ["--times", "1000", "--steps", "2", "--size", "64x64"], 8000],
];

async function interruptedVideo(name: string, args: string[], out: string) {
  const script = new URL(`../../recipes/${name}.ts`, import.meta.url).pathname;
  const proc = Bun.spawn([process.execPath, "run", script, ...args, "--out", out], { stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  const stderr = proc.stderr.text();
  const deadline = Date.now() + 60_000;
  // a header and more than one frame's worth of bytes: the recipe is writing frames
  while (Date.now() < deadline && !(existsSync(out) && readFileSync(out).length > 64 * 1024) && proc.exitCode === null) await Bun.sleep(20);
  const sent = proc.exitCode === null;
  if (sent) proc.kill("SIGINT");
  return { sent, exitCode: await proc.exited, stderr: await stderr };
}

describe("every video recipe, interrupted", () => {
  for (const [name, args, asked] of VIDEO_RECIPES) {
    test(`${name}: SIGINT mid-run gives exit 130 and a y4m of whole frames`, async () => {
      const out = join(tmp, `${name}.y4m`);
      const r = await interruptedVideo(name, args, out);
      expect({ sent: r.sent, exitCode: r.exitCode }).toEqual({ sent: true, exitCode: 130 });
      expect(r.stderr).toContain("interrupted: finishing the frame under way");
      const bytes = readFileSync(out);
      const headerEnd = bytes.indexOf(0x0a) + 1;
      const header = parseY4mHeader(bytes.subarray(0, headerEnd - 1).toString("latin1"));
      const frameBytes = "FRAME\n".length + (header.width * header.height * 3) / 2;
      const frames = (bytes.length - headerEnd) / frameBytes;
      expect(Number.isInteger(frames)).toBe(true);
      expect(frames).toBeGreaterThan(0);
      expect(frames).toBeLessThan(asked);
    });
  }
});
