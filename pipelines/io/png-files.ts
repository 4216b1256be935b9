/**
 * PNG images and folders of numbered PNGs, through pngjs. Any PNG reads as rgb24: palette and
 * grey expand to RGB, 16-bit samples round to 8 bits, and alpha is dropped (as ffmpeg's
 * rgba → rgb24 does). PNGs are written as 8-bit RGB.
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { crc32 } from "node:zlib";
import { PNG } from "pngjs";
import { FrameError } from "../errors.ts";
import { checkFrameSize, DEFAULT_FPS, makeFolder, type Frame, type FrameWriter, type StreamMeta } from "./frame.ts";

/** Digits in numbered names: 00001.png … 99999.png, the width ffmpeg users reach for (%05d). */
const NUMBER_DIGITS = 5;

export function decodePng(bytes: Uint8Array, name = "PNG"): Frame {
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new FrameError(`${name}: not a readable PNG (${(e as Error).message ?? e})`);
  }
  const n = png.width * png.height;
  const data = new Uint8Array(n * 3);
  const rgba = png.data;
  for (let i = 0; i < n; i++) {
    data[3 * i] = rgba[4 * i]!;
    data[3 * i + 1] = rgba[4 * i + 1]!;
    data[3 * i + 2] = rgba[4 * i + 2]!;
  }
  return { width: png.width, height: png.height, data };
}

/** 8-bit RGB PNG bytes; `text` becomes tEXt chunks (keyword → Latin-1 text) right after IHDR. */
export function encodePng(frame: Frame, text: Readonly<Record<string, string>> = {}): Uint8Array {
  const png = new PNG({ width: frame.width, height: frame.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
  const bytes = PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
  const chunks = Object.entries(text).map(([keyword, value]) => pngChunk("tEXt", Buffer.from(`${keyword}\0${value}`, "latin1")));
  if (chunks.length === 0) return bytes;
  // signature (8) + IHDR (4 length + 4 type + 13 data + 4 CRC)
  const afterIhdr = 8 + 25;
  return Buffer.concat([bytes.subarray(0, afterIhdr), ...chunks, bytes.subarray(afterIhdr)]);
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return out;
}

/** The tEXt chunks of a PNG (keyword → text), read up to the image data; a non-PNG is a FrameError. */
export function readPngText(bytes: Uint8Array, name = "PNG"): Record<string, string> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || buf.readUInt32BE(0) !== 0x89504e47) throw new FrameError(`${name}: not a PNG file`);
  const text: Record<string, string> = {};
  for (let at = 8; at + 12 <= buf.length; ) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString("latin1", at + 4, at + 8);
    if (type === "IDAT" || type === "IEND" || at + 12 + length > buf.length) break;
    if (type === "tEXt") {
      const data = buf.subarray(at + 8, at + 8 + length);
      const zero = data.indexOf(0);
      if (zero > 0) text[data.toString("latin1", 0, zero)] = data.toString("latin1", zero + 1);
    }
    at += 12 + length;
  }
  return text;
}

export async function readPngFile(path: string): Promise<Frame> {
  if (!existsSync(path)) throw new FrameError(`PNG file not found: ${path}`);
  return decodePng(new Uint8Array(await readFile(path)), path);
}

/**
 * Writes one PNG, creating its parent folders. The bytes go to a temporary name that is renamed
 * into place, so an interrupted run never leaves a half-written PNG under the real name.
 */
export async function writePngFile(path: string, frame: Frame, text: Readonly<Record<string, string>> = {}): Promise<void> {
  makeFolder(dirname(path));
  const partial = join(dirname(path), `.${basename(path)}.partial-${process.pid}`);
  try {
    await writeFile(partial, encodePng(frame, text));
    renameSync(partial, path);
  } catch (e) {
    rmSync(partial, { force: true });
    const err = e as NodeJS.ErrnoException;
    throw new FrameError(`cannot write ${path}: ${err.code ?? err.message}`);
  }
}

/** The PNG files in `dir`, in frame order: numbers inside names compare as numbers (frame2 < frame10). */
export function listPngFolder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new FrameError(`PNG folder not found: ${dir}`);
  }
  const pngs = names
    .filter((n) => n.toLowerCase().endsWith(".png"))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }))
    .map((n) => join(dir, n));
  if (pngs.length === 0) throw new FrameError(`no .png files in folder ${dir}`);
  return pngs;
}

export interface PngFolderStream {
  meta: StreamMeta;
  frames: AsyncGenerator<Frame, void, undefined>;
  paths: string[];
}

/** Lists the folder and decodes the first image (for the size); frames are read one at a time. */
export async function openPngFolder(dir: string, fps = DEFAULT_FPS): Promise<PngFolderStream> {
  const paths = listPngFolder(dir);
  const first = await readPngFile(paths[0]!);
  const meta: StreamMeta = { width: first.width, height: first.height, fps };
  async function* frames(): AsyncGenerator<Frame, void, undefined> {
    yield first;
    for (const path of paths.slice(1)) {
      const frame = await readPngFile(path);
      if (frame.width !== meta.width || frame.height !== meta.height) {
        throw new FrameError(`${path} is ${frame.width}x${frame.height} but ${paths[0]} is ${meta.width}x${meta.height}`);
      }
      yield frame;
    }
  }
  return { meta, frames: frames(), paths };
}

/** "00007.png" for index 7 (frames count from 1). */
export function numberedPngName(index: number, prefix = ""): string {
  return `${prefix}${String(index).padStart(NUMBER_DIGITS, "0")}.png`;
}

/** A folder of 00001.png, 00002.png, … written as frames come (after `skip` frames: from its number + 1). */
export function createPngFolderWriter(dir: string, meta: StreamMeta, text: Readonly<Record<string, string>> = {}, skip = 0): FrameWriter {
  makeFolder(dir);
  if (!statSync(dir).isDirectory()) throw new FrameError(`output folder ${dir} is not a folder`);
  let count = skip;
  let closed = false;
  return {
    async write(frame: Frame): Promise<void> {
      if (closed) throw new FrameError("PNG folder writer: write after close");
      checkFrameSize(frame, meta, "PNG folder writer");
      count++;
      await writePngFile(join(dir, numberedPngName(count)), frame, text);
    },
    async close(): Promise<void> {
      closed = true;
    },
  };
}

/**
 * `name.png` for one frame. A second frame turns it into a numbered series: name.png is
 * renamed name-00001.png and the rest follow as name-00002.png, … — decided as frames come,
 * since how many there will be is not known up front.
 */
export function createPngFileWriter(path: string, meta: StreamMeta, text: Readonly<Record<string, string>> = {}): FrameWriter {
  const stem = path.replace(/\.png$/i, "");
  makeFolder(dirname(path));
  let count = 0;
  let closed = false;
  return {
    async write(frame: Frame): Promise<void> {
      if (closed) throw new FrameError("PNG writer: write after close");
      checkFrameSize(frame, meta, "PNG writer");
      count++;
      if (count === 1) return writePngFile(path, frame, text);
      if (count === 2) renameSync(path, numberedPngName(1, stem + "-"));
      await writePngFile(numberedPngName(count, stem + "-"), frame, text);
    },
    async close(): Promise<void> {
      closed = true;
    },
  };
}
