/**
 * Binary netpbm streams: P6 (RGB) in and out, P5 (grey) in. A stream is images back to back,
 * as `ffmpeg -f image2pipe -c:v ppm` writes them. Header tokens may be separated by any
 * whitespace and "#" comments; maxval up to 65535 (two bytes a sample, big-endian) is scaled
 * to 8 bits. Ref: netpbm's ppm(5) and pgm(5) pages.
 */
import { FrameError } from "../errors.ts";
import { ByteReader } from "./byte-reader.ts";
import {
  checkFrameDimensions,
  checkFrameSize,
  DEFAULT_FPS,
  type ByteInput,
  type ByteSink,
  type Frame,
  type FrameWriter,
  type StreamMeta,
} from "./frame.ts";

export interface PpmHeader {
  magic: "P6" | "P5";
  width: number;
  height: number;
  maxval: number;
}

export interface PpmStream {
  meta: StreamMeta;
  frames: AsyncGenerator<Frame, void, undefined>;
}

const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;

/** Skips whitespace and comments; returns the first byte after them (-1 at the end). */
async function skipBlanks(reader: ByteReader): Promise<number> {
  for (;;) {
    let b = await reader.readByte();
    while (b >= 0 && isSpace(b)) b = await reader.readByte();
    if (b !== 0x23) return b;
    while (b >= 0 && b !== 0x0a && b !== 0x0d) b = await reader.readByte();
  }
}

async function readNumber(reader: ByteReader, image: number, name: string): Promise<number> {
  let b = await skipBlanks(reader);
  if (b < 0) throw new FrameError(`ppm stream truncated in the header of image ${image}: missing ${name}`);
  let digits = "";
  while (b >= 0x30 && b <= 0x39 && digits.length < 10) {
    digits += String.fromCharCode(b);
    b = await reader.readByte();
  }
  if (digits === "" || (b >= 0 && !isSpace(b) && b !== 0x23)) {
    throw new FrameError(`ppm image ${image}: bad ${name} in header (expected a decimal number)`);
  }
  if (b === 0x23) {
    // A comment right after the number: swallow it up to the end of its line.
    while (b >= 0 && b !== 0x0a && b !== 0x0d) b = await reader.readByte();
  }
  return Number(digits);
}

/** Reads one header; null when only whitespace is left. The single byte after maxval is consumed. */
async function readHeader(reader: ByteReader, image: number): Promise<PpmHeader | null> {
  const p = await skipBlanks(reader);
  if (p < 0) return null;
  const n = await reader.readByte();
  const magic = String.fromCharCode(p) + (n < 0 ? "" : String.fromCharCode(n));
  if (magic !== "P6" && magic !== "P5") {
    throw new FrameError(
      `ppm image ${image}: bad magic "${magic.replace(/[^\x20-\x7e]/g, "?")}" (expected P6 for binary RGB or P5 for binary grey)`,
    );
  }
  const width = await readNumber(reader, image, "width");
  const height = await readNumber(reader, image, "height");
  const maxval = await readNumber(reader, image, "maxval");
  if (width < 1 || height < 1) throw new FrameError(`ppm image ${image}: size ${width}x${height} is empty`);
  checkFrameDimensions(width, height, `ppm image ${image}`);
  if (maxval < 1 || maxval > 65535) throw new FrameError(`ppm image ${image}: maxval ${maxval} is outside 1..65535`);
  return { magic, width, height, maxval };
}

async function readRaster(reader: ByteReader, h: PpmHeader, image: number): Promise<Frame> {
  const channels = h.magic === "P6" ? 3 : 1;
  const sampleBytes = h.maxval > 255 ? 2 : 1;
  const pixels = h.width * h.height;
  const raw = new Uint8Array(pixels * channels * sampleBytes);
  const got = await reader.readInto(raw);
  if (got < raw.length) {
    throw new FrameError(`ppm stream truncated in image ${image}: ${raw.length - got} of its ${raw.length} bytes are missing`);
  }
  const frame: Frame = { width: h.width, height: h.height, data: new Uint8Array(pixels * 3) };
  const samples = pixels * channels;
  const out = frame.data;
  const scale = 255 / h.maxval;
  for (let i = 0; i < samples; i++) {
    const v = sampleBytes === 2 ? (raw[2 * i]! << 8) | raw[2 * i + 1]! : raw[i]!;
    const b = h.maxval === 255 ? v : Math.min(255, Math.floor(v * scale + 0.5));
    if (channels === 3) out[i] = b;
    else out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = b;
  }
  return frame;
}

/** Reads the first header now (for the stream's size) and returns every image as a frame. */
export async function openPpm(input: ByteInput | ByteReader): Promise<PpmStream> {
  const reader = input instanceof ByteReader ? input : new ByteReader(input);
  let first: PpmHeader | null;
  try {
    first = await readHeader(reader, 1);
  } catch (e) {
    await reader.cancel();
    throw e;
  }
  if (!first) {
    await reader.cancel();
    throw new FrameError("ppm stream is empty");
  }
  const meta: StreamMeta = { width: first.width, height: first.height, fps: DEFAULT_FPS };
  return { meta, frames: ppmFrames(reader, first) };
}

async function* ppmFrames(reader: ByteReader, first: PpmHeader): AsyncGenerator<Frame, void, undefined> {
  try {
    let header: PpmHeader | null = first;
    for (let image = 1; header; image++) {
      if (header.width !== first.width || header.height !== first.height) {
        throw new FrameError(
          `ppm image ${image} is ${header.width}x${header.height} but the stream started at ${first.width}x${first.height}`,
        );
      }
      yield await readRaster(reader, header, image);
      header = await readHeader(reader, image + 1);
    }
  } finally {
    await reader.cancel();
  }
}

export async function* readPpm(input: ByteInput | ByteReader): AsyncGenerator<Frame, void, undefined> {
  yield* (await openPpm(input)).frames;
}

/** One P6 image, header and pixels, maxval 255. */
export function encodePpm(frame: Frame): Uint8Array {
  const header = new TextEncoder().encode(`P6\n${frame.width} ${frame.height}\n255\n`);
  const out = new Uint8Array(header.length + frame.data.length);
  out.set(header, 0);
  out.set(frame.data, header.length);
  return out;
}

/** Writes each frame as one P6 image the moment it arrives. */
export function createPpmWriter(sink: ByteSink, meta: StreamMeta): FrameWriter {
  let closed = false;
  return {
    async write(frame: Frame): Promise<void> {
      if (closed) throw new FrameError("ppm writer: write after close");
      checkFrameSize(frame, meta, "ppm writer");
      await sink.write(encodePpm(frame));
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await sink.close?.();
    },
  };
}
