import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { FrameError } from "../../../pipelines/errors.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";
import {
  createPngFileWriter,
  createPngFolderWriter,
  decodePng,
  encodePng,
  listPngFolder,
  openPngFolder,
  readPngFile,
} from "../../../pipelines/io/png-files.ts";
import { noiseFrame } from "./fixtures.ts";

const root = mkdtempSync(join(tmpdir(), "latentloom-png-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const meta = (width: number, height: number) => ({ width, height, fps: { num: 25, den: 1 } });

// A PNG written by hand (spec: RFC 2083), so decoding is checked against something pngjs did not make.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** rows: already-packed sample bytes per row (filter type 0 is prepended). */
function handPng(width: number, height: number, bitDepth: number, colorType: number, rows: number[][], plte?: number[]): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, colorType, 0, 0, 0], 8);
  const raw = Uint8Array.from(rows.flatMap((r) => [0, ...r]));
  const parts = [
    Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    ...(plte ? [chunk("PLTE", Uint8Array.from(plte))] : []),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  return new Uint8Array(Buffer.concat(parts));
}

describe("png files", () => {
  test("encodePng then decodePng returns the frame exactly", () => {
    const f = noiseFrame(7, 5, 3);
    expect(decodePng(encodePng(f))).toEqual(f);
  });

  describe("converts other PNG kinds to rgb24", () => {
    test("8-bit RGB as is", () => {
      expect([...decodePng(handPng(2, 1, 8, 2, [[1, 2, 3, 250, 251, 252]])).data]).toEqual([1, 2, 3, 250, 251, 252]);
    });

    test("RGBA by dropping alpha", () => {
      const png = handPng(2, 1, 8, 6, [[10, 20, 30, 0, 40, 50, 60, 255]]);
      expect([...decodePng(png).data]).toEqual([10, 20, 30, 40, 50, 60]);
    });

    test("grey and grey+alpha by repeating the level", () => {
      expect([...decodePng(handPng(2, 1, 8, 0, [[7, 99]])).data]).toEqual([7, 7, 7, 99, 99, 99]);
      expect([...decodePng(handPng(1, 1, 8, 4, [[42, 3]])).data]).toEqual([42, 42, 42]);
    });

    test("16-bit grey by rounding v·255/65535", () => {
      const png = handPng(3, 1, 16, 0, [[0x00, 0x00, 0x12, 0x34, 0xff, 0xff]]);
      expect([...decodePng(png).data]).toEqual([0, 0, 0, 18, 18, 18, 255, 255, 255]);
    });

    test("16-bit RGB likewise", () => {
      const png = handPng(1, 1, 16, 2, [[0x80, 0x80, 0x00, 0xff, 0xff, 0xff]]);
      expect([...decodePng(png).data]).toEqual([128, 1, 255]);
    });

    test("palette images through their palette", () => {
      const png = handPng(2, 1, 8, 3, [[1, 0]], [5, 6, 7, 200, 100, 50]);
      expect([...decodePng(png).data]).toEqual([200, 100, 50, 5, 6, 7]);
    });
  });

  test("a file that is not a PNG is a FrameError naming it", () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3]), "x.png")).toThrow(FrameError);
    expect(() => decodePng(new Uint8Array([1, 2, 3]), "x.png")).toThrow(/^x\.png: not a readable PNG/);
  });

  describe("given a folder writer", () => {
    test("writes 00001.png, 00002.png, … into a created folder, and reads them back in order", async () => {
      const dir = join(root, "a", "frames");
      const frames = Array.from({ length: 12 }, (_, i) => noiseFrame(4, 3, i + 1));
      const w = createPngFolderWriter(dir, meta(4, 3));
      for (const f of frames) await w.write(f);
      await w.close();
      expect(readdirSync(dir).sort()).toEqual(frames.map((_, i) => `${String(i + 1).padStart(5, "0")}.png`));
      const s = await openPngFolder(dir);
      expect(s.meta).toEqual(meta(4, 3));
      const back: Frame[] = [];
      for await (const f of s.frames) back.push(f);
      expect(back).toEqual(frames);
    });
  });

  test("a folder lists frame2 before frame10 and ignores other files", () => {
    const dir = join(root, "natural");
    mkdirSync(dir, { recursive: true });
    for (const n of ["frame10.png", "frame2.png", "frame1.PNG", "notes.txt"]) writeFileSync(join(dir, n), "");
    expect(listPngFolder(dir).map((p) => p.slice(dir.length + 1))).toEqual(["frame1.PNG", "frame2.png", "frame10.png"]);
  });

  test("an empty folder is a FrameError naming it", () => {
    const dir = join(root, "empty");
    mkdirSync(dir, { recursive: true });
    expect(() => listPngFolder(dir)).toThrow(`no .png files in folder ${dir}`);
  });

  describe("given a single-file writer", () => {
    test("writes one frame to the name given", async () => {
      const path = join(root, "one", "still.png");
      const f = noiseFrame(3, 3, 9);
      const w = createPngFileWriter(path, meta(3, 3));
      await w.write(f);
      await w.close();
      expect(readdirSync(join(root, "one"))).toEqual(["still.png"]);
      expect(await readPngFile(path)).toEqual(f);
    });

    test("numbers the files name-00001.png, … once a second frame comes", async () => {
      const path = join(root, "many", "clip.png");
      const frames = [1, 2, 3].map((i) => noiseFrame(3, 2, i));
      const w = createPngFileWriter(path, meta(3, 2));
      for (const f of frames) await w.write(f);
      await w.close();
      expect(readdirSync(join(root, "many")).sort()).toEqual(["clip-00001.png", "clip-00002.png", "clip-00003.png"]);
      expect(existsSync(path)).toBe(false);
      expect(await readPngFile(join(root, "many", "clip-00003.png"))).toEqual(frames[2]!);
    });
  });
});
