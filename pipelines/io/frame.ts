/**
 * The picture every io module speaks: 8-bit RGB, three bytes a pixel, rows top to bottom.
 * Stream formats (y4m, ppm, png, ffmpeg) convert to and from this at their edges.
 */
import { mkdirSync } from "node:fs";
import { FrameError, UsageError } from "../errors.ts";

export interface Rational {
  num: number;
  den: number;
}

export interface Frame {
  width: number;
  height: number;
  /** rgb24, row-major, length width*height*3. */
  data: Uint8Array;
}

/** What a stream says about all of its frames. */
export interface StreamMeta {
  width: number;
  height: number;
  fps: Rational;
  /** Pixel aspect ratio, when the stream states one. */
  aspect?: Rational;
}

/** Bytes coming in: a web stream (a file's, a child's stdout) or any async iterable. */
export type ByteInput = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** Bytes going out. `write` resolves once the bytes have left our hands (file, pipe, array). */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void> | void;
  close?(): Promise<void> | void;
}

/** The writing end of every frame format; frame sinks add nothing but where the bytes go. */
export interface FrameWriter {
  /** Resolves once the frame's bytes are handed to the file, pipe or process. */
  write(frame: Frame): Promise<void>;
  /** Finishes the stream and closes what it writes to. */
  close(): Promise<void>;
}

/** Frame rate assumed by formats that carry none (PPM, PNG, raw), as ffmpeg does for images. */
export const DEFAULT_FPS: Rational = { num: 25, den: 1 };

export function createFrame(width: number, height: number): Frame {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

/** Throws unless `frame` is a well-formed rgb24 frame of the stream's size. */
/** Largest frame we read: a side of 16384 and 2^27 pixels (384 MiB of rgb24), so a lying header cannot exhaust memory. */
export const MAX_FRAME_SIDE = 16384;
export const MAX_FRAME_PIXELS = 2 ** 27;

/** Throws a FrameError when a header's size is beyond what we read. */
export function checkFrameDimensions(width: number, height: number, what: string): void {
  if (width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE || width * height > MAX_FRAME_PIXELS) {
    throw new FrameError(`${what}: size ${width}x${height} is too large (at most ${MAX_FRAME_SIDE} a side and ${MAX_FRAME_PIXELS} pixels)`);
  }
}

export function checkFrameSize(frame: Frame, meta: { width: number; height: number }, what: string): void {
  if (frame.width !== meta.width || frame.height !== meta.height) {
    throw new FrameError(
      `${what}: frame is ${frame.width}x${frame.height} but the stream is ${meta.width}x${meta.height}`,
    );
  }
  const want = frame.width * frame.height * 3;
  if (frame.data.length !== want) {
    throw new FrameError(
      `${what}: frame data has ${frame.data.length} bytes, rgb24 ${frame.width}x${frame.height} needs ${want}`,
    );
  }
}

/** Parses "WxH" (as given to --size) into a size; a bad string is a UsageError naming it. */
export function parseSize(text: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(text.trim());
  const width = m ? Number(m[1]) : 0;
  const height = m ? Number(m[2]) : 0;
  if (!m || width < 1 || height < 1) {
    throw new UsageError(`bad size "${text}": expected WIDTHxHEIGHT, e.g. 512x512`);
  }
  return { width, height };
}

/** Creates `dir` and its parents; failure is one line naming the folder and the reason. */
export function makeFolder(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FrameError(`cannot create output folder ${dir}: ${err.code ?? err.message}`);
  }
}
