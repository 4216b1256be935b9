import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FrameError, UsageError } from "../../../pipelines/errors.ts";
import type { Frame, StreamMeta } from "../../../pipelines/io/frame.ts";
import { openFrameSink } from "../../../pipelines/io/frame-sink.ts";
import { openFrameSource } from "../../../pipelines/io/frame-source.ts";
import { encodePpm } from "../../../pipelines/io/ppm.ts";
import { openY4m } from "../../../pipelines/io/y4m-reader.ts";
import { collect } from "./fixtures.ts";

const root = mkdtempSync(join(tmpdir(), "latentloom-sink-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const fixture = join(import.meta.dir, "copy-frames-fixture.ts");

/** Runs the copy fixture from stdin ("-") to stdout ("-"). */
async function copyFrames(stdin: Uint8Array) {
  await using proc = Bun.spawn({ cmd: [process.execPath, fixture, "-", "-"], stdin, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

function gradientFrame(width: number, height: number, phase: number): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = 3 * (y * width + x);
      data.set([60 + x + phase, 90 + y, 140 - x - phase], p);
    }
  }
  return { width, height, data };
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const meta: StreamMeta = { width: 6, height: 4, fps: { num: 10, den: 1 } };
const frames = [0, 1, 2].map((i) => gradientFrame(6, 4, i));

describe("openFrameSink", () => {
  describe("given a file spec", () => {
    test("writes .y4m frame by frame, each on disk once write() resolves, parent folders created", async () => {
      const path = join(root, "a", "b", "out.y4m");
      await using out = openFrameSink(path, meta);
      const header = "YUV4MPEG2 W6 H4 F10:1 Ip A0:0 C420jpeg\n".length;
      const frameBytes = "FRAME\n".length + 6 * 4 + 2 * 3 * 2;
      for (let i = 0; i < 3; i++) {
        await out.write(frames[i]!);
        expect(statSync(path).size).toBe(header + (i + 1) * frameBytes);
      }
      await out.close();
      const back = await collect((await openFrameSource(path)).frames);
      expect(back.length).toBe(3);
      for (let i = 0; i < 3; i++) expect(maxDiff(back[i]!.data, frames[i]!.data)).toBeLessThanOrEqual(2);
    });

    test("writes .ppm exactly", async () => {
      const path = join(root, "out.ppm");
      const out = openFrameSink(path, meta);
      for (const f of frames) await out.write(f);
      await out.close();
      expect(await collect((await openFrameSource(path)).frames)).toEqual(frames);
    });

    test("writes .rgb as raw bytes", async () => {
      const path = join(root, "out.rgb");
      const out = openFrameSink(path, meta);
      for (const f of frames) await out.write(f);
      await out.close();
      expect(new Uint8Array(await Bun.file(path).arrayBuffer())).toEqual(
        new Uint8Array(Buffer.concat(frames.map((f) => f.data))),
      );
    });

    test("writes a folder spec ending in / as 00001.png, … and reads back exactly", async () => {
      const dir = join(root, "out", "frames") + "/";
      const out = openFrameSink(dir, meta);
      for (const f of frames) await out.write(f);
      await out.close();
      expect(readdirSync(dir).sort()).toEqual(["00001.png", "00002.png", "00003.png"]);
      expect(await collect((await openFrameSource(dir)).frames)).toEqual(frames);
    });

    test("writes several frames to name.png as name-00001.png, …", async () => {
      const out = openFrameSink(join(root, "stills", "shot.png"), meta);
      for (const f of frames) await out.write(f);
      await out.close();
      expect(readdirSync(join(root, "stills")).sort()).toEqual(["shot-00001.png", "shot-00002.png", "shot-00003.png"]);
    });

    test("rejects a frame of another size", async () => {
      const out = openFrameSink(join(root, "size.ppm"), meta);
      await expect(out.write(gradientFrame(5, 4, 0))).rejects.toThrow(
        new FrameError("ppm writer: frame is 5x4 but the stream is 6x4"),
      );
      await out.close();
    });

    test("rejects an unknown extension, listing the choices", () => {
      const err = (() => {
        try {
          openFrameSink(join(root, "x.tiff"), meta);
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err).toBeInstanceOf(UsageError);
      expect(err!.message).toMatch(/^unknown output ".*x\.tiff": expected "-" \(stdout, y4m\), a folder ending in "\/", or a file ending in \.y4m, \.ppm, \.rgb, \.raw, \.png, \.mp4, \.webm, \.gif, \.mov$/);
    });
  });

  describe('given "-" in a child process (copy-frames-fixture)', () => {
    test("writes only the y4m stream to stdout, and progress to stderr", async () => {
      const input = Buffer.concat(frames.map(encodePpm));
      const { stdout, stderr, code } = await copyFrames(input);
      expect({ code, stderr: stderr.replace(/elapsed .*$/m, "…") }).toEqual({ code: 0, stderr: "copy: 3  …\n" });
      const s = await openY4m((async function* () { yield stdout; })());
      expect(s.meta).toEqual({ width: 6, height: 4, fps: { num: 25, den: 1 } });
      const back = await collect(s.frames);
      expect(back.length).toBe(3);
      for (let i = 0; i < 3; i++) expect(maxDiff(back[i]!.data, frames[i]!.data)).toBeLessThanOrEqual(2);
    });

    test("on a cut input, keeps the finished frames valid on stdout and says what was cut", async () => {
      const input = Buffer.concat(frames.map(encodePpm));
      const { stdout, stderr, code } = await copyFrames(input.subarray(0, input.length - 10));
      expect(code).toBe(1);
      expect(stderr).toContain("error: ppm stream truncated in image 3: 10 of its 72 bytes are missing\n");
      const back = await collect((await openY4m((async function* () { yield stdout; })())).frames);
      expect(back.length).toBe(2);
    });

    test("reads raw rgb24 from stdin with a size and writes it to a file", async () => {
      const path = join(root, "from-stdin.ppm");
      await using proc = Bun.spawn({
        cmd: [process.execPath, fixture, "-", path, "6x4"],
        stdin: Buffer.concat(frames.map((f) => f.data)),
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect({ code, stdout }).toEqual({ code: 0, stdout: "" });
      expect(await collect((await openFrameSource(path)).frames)).toEqual(frames);
    });
  });
});
