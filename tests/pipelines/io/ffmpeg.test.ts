import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FrameError } from "../../../pipelines/errors.ts";
import { findFfmpeg, lastLine, runFfmpeg, spawnDecoder, spawnEncoder } from "../../../pipelines/io/ffmpeg.ts";
import type { Frame, StreamMeta } from "../../../pipelines/io/frame.ts";
import { openFrameSink } from "../../../pipelines/io/frame-sink.ts";
import { openFrameSource } from "../../../pipelines/io/frame-source.ts";
import { openY4m } from "../../../pipelines/io/y4m-reader.ts";
import { collect } from "./fixtures.ts";

const root = mkdtempSync(join(tmpdir(), "latentloom-ffmpeg-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Looked up before any test changes LATENTLOOM_FFMPEG.
const ffmpeg = findFfmpeg();
if (!ffmpeg) console.warn("skipping ffmpeg interop tests: no ffmpeg (LATENTLOOM_FFMPEG, PATH, @ffmpeg-installer/ffmpeg)");

function smoothFrame(width: number, height: number, phase: number): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = 3 * (y * width + x);
      data[p] = Math.round(60 + 2 * x + 10 * Math.sin(phase));
      data[p + 1] = Math.round(70 + 2 * y);
      data[p + 2] = Math.round(130 + 50 * Math.sin(phase + (x + y) / 20));
    }
  }
  return { width, height, data };
}

function diffStats(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

function hflip(f: Frame): Frame {
  const data = new Uint8Array(f.data.length);
  for (let y = 0; y < f.height; y++) {
    for (let x = 0; x < f.width; x++) {
      const from = 3 * (y * f.width + x);
      const to = 3 * (y * f.width + (f.width - 1 - x));
      data.set(f.data.subarray(from, from + 3), to);
    }
  }
  return { ...f, data };
}

async function writeAll(spec: string, meta: StreamMeta, frames: Frame[]): Promise<void> {
  const out = openFrameSink(spec, meta);
  for (const f of frames) await out.write(f);
  await out.close();
}

/** An executable that plays a failing ffmpeg: two stderr lines, exit 1. */
function fakeFfmpeg(name: string, lastMessage: string): string {
  const path = join(root, name);
  writeFileSync(path, `#!/bin/sh\necho "ffmpeg version fake" >&2\necho "${lastMessage}" >&2\nexit 1\n`);
  chmodSync(path, 0o755);
  return path;
}

function withEnv<T>(value: string | undefined, run: () => Promise<T>): Promise<T> {
  const old = process.env.LATENTLOOM_FFMPEG;
  if (value === undefined) delete process.env.LATENTLOOM_FFMPEG;
  else process.env.LATENTLOOM_FFMPEG = value;
  return run().finally(() => {
    if (old === undefined) delete process.env.LATENTLOOM_FFMPEG;
    else process.env.LATENTLOOM_FFMPEG = old;
  });
}

describe("findFfmpeg", () => {
  test("takes LATENTLOOM_FFMPEG first", async () => {
    const fake = fakeFfmpeg("first", "x");
    expect(await withEnv(fake, async () => findFfmpeg())).toBe(fake);
  });

  test("rejects a LATENTLOOM_FFMPEG that names no file", async () => {
    await expect(withEnv(join(root, "nope"), async () => findFfmpeg())).rejects.toThrow(
      new FrameError(`LATENTLOOM_FFMPEG=${join(root, "nope")}: no such file`),
    );
  });
});

test("lastLine picks ffmpeg's last non-empty stderr line", () => {
  expect(lastLine("a\nb: Invalid data found\n\n  \n")).toBe("b: Invalid data found");
  expect(lastLine("frame=1\rframe=2\r")).toBe("frame=2");
});

describe("given an ffmpeg that fails", () => {
  const meta: StreamMeta = { width: 8, height: 8, fps: { num: 25, den: 1 } };

  test("encoding reports ffmpeg's last stderr line as one FrameError line", async () => {
    const fake = fakeFfmpeg("enc", "Unknown encoder 'libx264'");
    const out = join(root, "fail.mp4");
    await withEnv(fake, async () => {
      const run = writeAll(out, meta, [smoothFrame(8, 8, 0), smoothFrame(8, 8, 1)]);
      await expect(run).rejects.toThrow(new FrameError(`ffmpeg failed encoding ${out} (exit 1): Unknown encoder 'libx264'`));
    });
  });

  test("decoding reports ffmpeg's last stderr line, not an empty y4m stream", async () => {
    const fake = fakeFfmpeg("dec", "in.mp4: Invalid data found when processing input");
    const input = join(root, "in.mp4");
    writeFileSync(input, "not a video");
    await withEnv(fake, async () => {
      await expect(openFrameSource(input)).rejects.toThrow(
        new FrameError(`ffmpeg failed decoding ${input} (exit 1): in.mp4: Invalid data found when processing input`),
      );
    });
  });
});

describe.skipIf(!ffmpeg)("with a real ffmpeg", () => {
  const meta: StreamMeta = { width: 64, height: 48, fps: { num: 24, den: 1 }, aspect: { num: 1, den: 1 } };
  const frames = [0, 1, 2, 3].map((i) => smoothFrame(64, 48, i));

  describe("ffmpeg reads our y4m as the same colours (ffmpeg converting to raw rgb24)", () => {
    // At 4:4:4 only the YUV→RGB arithmetic differs: swscale's fixed point against our floats.
    // At 4:2:0 swscale also upsamples chroma its own way, so only the average is held tight.
    const cases = [
      { chroma: "444" as const, flags: [], max: 2, mean: 0.5 },
      { chroma: "420" as const, flags: ["-sws_flags", "bilinear+accurate_rnd+full_chroma_int"], max: 8, mean: 1 },
    ];
    for (const c of cases) {
      test(`at ${c.chroma}: no sample more than ${c.max} off, mean under ${c.mean}`, async () => {
        const y4m = join(root, `ours-${c.chroma}.y4m`);
        const rgb = join(root, `ours-${c.chroma}.rgb`);
        const out = openFrameSink(y4m, meta, { y4m: { chroma: c.chroma } });
        for (const f of frames) await out.write(f);
        await out.close();
        await runFfmpeg(["-y", "-i", y4m, ...c.flags, "-f", "rawvideo", "-pix_fmt", "rgb24", rgb]);
        const raw = new Uint8Array(await Bun.file(rgb).arrayBuffer());
        expect(raw.length).toBe(4 * 64 * 48 * 3);
        for (let i = 0; i < 4; i++) {
          const d = diffStats(raw.subarray(i * 64 * 48 * 3, (i + 1) * 64 * 48 * 3), frames[i]!.data);
          expect(d.max).toBeLessThanOrEqual(c.max);
          expect(d.mean).toBeLessThan(c.mean);
        }
      });
    }
  });

  test("our y4m re-encoded by ffmpeg with hflip and a pix_fmt change reads back flipped", async () => {
    const y4m = join(root, "flip-in.y4m");
    const flipped = join(root, "flip-out.y4m");
    await writeAll(y4m, meta, frames);
    await runFfmpeg(["-y", "-i", y4m, "-vf", "hflip", "-pix_fmt", "yuv444p", "-f", "yuv4mpegpipe", flipped]);
    const s = await openFrameSource(flipped);
    expect(s.meta).toEqual(meta);
    const back = await collect(s.frames);
    expect(back.length).toBe(4);
    for (let i = 0; i < 4; i++) {
      const d = diffStats(back[i]!.data, hflip(frames[i]!).data);
      expect(d.max).toBeLessThanOrEqual(4);
      expect(d.mean).toBeLessThan(1);
      // Not merely similar: the unflipped frame is much further away.
      expect(diffStats(back[i]!.data, frames[i]!.data).mean).toBeGreaterThan(10);
    }
  });

  test("ffmpeg's own 4:4:4 y4m (testsrc) matches ffmpeg's rgb24 of the same frames", async () => {
    const y4m = join(root, "testsrc.y4m");
    const rgb = join(root, "testsrc.rgb");
    const src = ["-f", "lavfi", "-i", "testsrc=size=48x32:rate=30000/1001", "-frames:v", "3"];
    await runFfmpeg(["-y", ...src, "-pix_fmt", "yuv444p", "-f", "yuv4mpegpipe", y4m]);
    await runFfmpeg(["-y", "-i", y4m, "-f", "rawvideo", "-pix_fmt", "rgb24", rgb]);
    const s = await openY4m(Bun.file(y4m).stream());
    expect(s.meta.fps).toEqual({ num: 30000, den: 1001 });
    const raw = new Uint8Array(await Bun.file(rgb).arrayBuffer());
    const back = await collect(s.frames);
    expect(back.length).toBe(3);
    for (let i = 0; i < 3; i++) {
      const d = diffStats(back[i]!.data, raw.subarray(i * 48 * 32 * 3, (i + 1) * 48 * 32 * 3));
      expect(d.max).toBeLessThanOrEqual(3);
      expect(d.mean).toBeLessThan(1);
    }
  });

  for (const ext of ["mp4", "webm", "gif"]) {
    test(`encoding to .${ext} and decoding back gives every frame, approximately`, async () => {
      const path = join(root, "deep", "er", `clip.${ext}`);
      await writeAll(path, meta, frames);
      const s = await openFrameSource(path);
      expect([s.meta.width, s.meta.height]).toEqual([64, 48]);
      if (ext !== "gif") expect(s.meta.fps).toEqual(meta.fps); // gif stores centiseconds per frame
      const back = await collect(s.frames);
      expect(back.length).toBe(4);
      for (let i = 0; i < 4; i++) {
        const d = diffStats(back[i]!.data, frames[i]!.data);
        expect(d.mean).toBeLessThan(ext === "gif" ? 6 : 3);
      }
    });
  }

  test("an odd-sized clip is padded to even sizes for .mp4, the picture unchanged", async () => {
    const odd = smoothFrame(33, 17, 0.3);
    const path = join(root, "odd.mp4");
    await writeAll(path, { width: 33, height: 17, fps: { num: 25, den: 1 } }, [odd]);
    const s = await openFrameSource(path);
    expect([s.meta.width, s.meta.height]).toEqual([34, 18]);
    const [back] = await collect(s.frames);
    const crop = new Uint8Array(33 * 17 * 3);
    for (let y = 0; y < 17; y++) crop.set(back!.data.subarray(3 * y * 34, 3 * (y * 34 + 33)), 3 * y * 33);
    expect(diffStats(crop, odd.data).mean).toBeLessThan(4);
  });

  test("decoding a file that is not a video names ffmpeg's complaint", async () => {
    const path = join(root, "bogus.mp4");
    writeFileSync(path, "certainly not a video");
    await expect(openFrameSource(path)).rejects.toThrow(/^ffmpeg failed decoding .*bogus\.mp4 \(exit 1\): .*Invalid data found/);
  });

  test("stopping early ends the decoder", async () => {
    // Longer than a pipe buffer holds (~2.8 MB of y4m), so the decoder cannot run to the end
    // while we read one frame: only the kill can end it.
    const path = join(root, "early.mp4");
    const big = { ...meta, width: 160, height: 120 };
    await writeAll(path, big, Array.from({ length: 96 }, (_, i) => smoothFrame(160, 120, i)));
    const dec = spawnDecoder(path);
    const s = await openY4m(dec.stdout);
    await s.frames.next();
    await s.frames.return();
    dec.kill();
    await dec.finished();
    // Killed, not finished: a decoder that ran to the end of the file would exit 0.
    expect(await dec.process.exited).not.toBe(0);
  });

  test("spawnEncoder rejects containers it does not know, listing those it does", () => {
    expect(() => spawnEncoder(join(root, "x.avi"))).toThrow('cannot encode "' + join(root, "x.avi") + '": video outputs are .mp4, .webm, .gif, .mov');
  });
});
