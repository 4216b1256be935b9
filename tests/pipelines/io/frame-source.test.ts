import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FrameError, UsageError } from "../../../pipelines/errors.ts";
import type { ByteSink, Frame, StreamMeta } from "../../../pipelines/io/frame.ts";
import { openFrameSource } from "../../../pipelines/io/frame-source.ts";
import { encodePng } from "../../../pipelines/io/png-files.ts";
import { encodePpm } from "../../../pipelines/io/ppm.ts";
import { createY4mWriter } from "../../../pipelines/io/y4m-writer.ts";
import { noiseFrame, chunks, collect } from "./fixtures.ts";

const root = mkdtempSync(join(tmpdir(), "latentloom-source-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function y4mBytes(meta: StreamMeta, frames: Frame[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const sink: ByteSink = { write: (b) => void parts.push(b) };
  const w = createY4mWriter(sink, meta, { chroma: "444" });
  for (const f of frames) await w.write(f);
  await w.close();
  return new Uint8Array(Buffer.concat(parts));
}

const a = noiseFrame(4, 3, 1);
const b = noiseFrame(4, 3, 2);
const meta: StreamMeta = { width: 4, height: 3, fps: { num: 12, den: 1 } };

describe("openFrameSource", () => {
  describe('given "-" (stdin)', () => {
    test("sniffs y4m from its signature and keeps its metadata", async () => {
      const s = await openFrameSource("-", { stdin: chunks(await y4mBytes(meta, [a, b])) });
      expect(s.meta).toEqual(meta);
      expect((await collect(s.frames)).length).toBe(2);
    });

    test("sniffs ppm from P6, even when the signature arrives a byte at a time", async () => {
      const bytes = new Uint8Array(Buffer.concat([encodePpm(a), encodePpm(b)]));
      const s = await openFrameSource("-", { stdin: chunks(...[...bytes].map((x) => Uint8Array.of(x))), fps: { num: 5, den: 1 } });
      expect(s.meta).toEqual({ width: 4, height: 3, fps: { num: 5, den: 1 } });
      expect(await collect(s.frames)).toEqual([a, b]);
    });

    test("reads raw rgb24 when given a size", async () => {
      const s = await openFrameSource("-", { stdin: chunks(a.data, b.data), size: { width: 4, height: 3 } });
      expect(s.meta).toEqual({ width: 4, height: 3, fps: { num: 25, den: 1 } });
      expect(await collect(s.frames)).toEqual([a, b]);
    });

    test("asks for --size when the bytes are neither y4m nor ppm", async () => {
      await expect(openFrameSource("-", { stdin: chunks(a.data) })).rejects.toThrow(
        new FrameError('stdin is neither y4m ("YUV4MPEG2 ") nor ppm ("P6"): raw rgb24 input needs --size WxH'),
      );
    });
  });

  describe("given a file or folder", () => {
    test("reads .y4m by extension", async () => {
      const path = join(root, "in.y4m");
      writeFileSync(path, await y4mBytes(meta, [a]));
      const s = await openFrameSource(path);
      expect(s.meta).toEqual(meta);
      expect((await collect(s.frames)).length).toBe(1);
    });

    test("reads .ppm by extension", async () => {
      const path = join(root, "in.ppm");
      writeFileSync(path, Buffer.concat([encodePpm(a), encodePpm(b)]));
      expect(await collect((await openFrameSource(path)).frames)).toEqual([a, b]);
    });

    test("reads a single .png as one frame", async () => {
      const path = join(root, "in.png");
      writeFileSync(path, encodePng(a));
      const s = await openFrameSource(path);
      expect(s.meta).toEqual({ width: 4, height: 3, fps: { num: 25, den: 1 } });
      expect(await collect(s.frames)).toEqual([a]);
    });

    test("reads a folder of PNGs in numeric order", async () => {
      const dir = join(root, "pngs");
      mkdirSync(dir);
      writeFileSync(join(dir, "f10.png"), encodePng(b));
      writeFileSync(join(dir, "f9.png"), encodePng(a));
      expect(await collect((await openFrameSource(dir)).frames)).toEqual([a, b]);
    });

    test("a format option overrides the extension", async () => {
      const path = join(root, "frames.bin");
      writeFileSync(path, Buffer.concat([a.data, b.data]));
      const s = await openFrameSource(path, { format: "raw", size: { width: 4, height: 3 } });
      expect(await collect(s.frames)).toEqual([a, b]);
    });

    test("a .rgb file without a size asks for --size", async () => {
      const path = join(root, "nosize.rgb");
      writeFileSync(path, a.data);
      await expect(openFrameSource(path)).rejects.toThrow(new FrameError(`raw rgb24 input ${path} needs --size WxH`));
    });

    test("a missing input is a FrameError naming it", async () => {
      const path = join(root, "missing.y4m");
      await expect(openFrameSource(path)).rejects.toThrow(new FrameError(`input not found: ${path}`));
    });

    test("an unknown format is a UsageError listing the choices", async () => {
      const err = await openFrameSource("-", { format: "avi" as never, stdin: chunks() }).catch((e) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect(err.message).toBe('unknown frame format "avi": expected one of y4m, ppm, raw, png, video');
    });
  });
});
