/**
 * Where a recipe's frames come from, by one spec string:
 *   "-"          stdin; y4m or ppm sniffed from the first bytes, else raw rgb24 with `size`
 *   a.y4m        YUV4MPEG2 file            a.ppm / a.pgm   netpbm stream
 *   a.png        one image                 a folder        its PNGs in numeric order
 *   a.rgb        raw rgb24 with `size`     anything else   a video, decoded by ffmpeg
 *
 *   const src = await openFrameSource("in.mp4");
 *   for await (const frame of src.frames) …      // src.meta: width, height, fps
 */
import { fstatSync, statSync } from "node:fs";
import { extname } from "node:path";
import { host } from "../../ffi/host/index.ts";
import { FrameError, UsageError } from "../errors.ts";
import { ByteReader } from "./byte-reader.ts";
import { spawnDecoder } from "./ffmpeg.ts";
import { DEFAULT_FPS, type ByteInput, type Frame, type Rational, type StreamMeta } from "./frame.ts";
import { openPngFolder, readPngFile } from "./png-files.ts";
import { openPpm } from "./ppm.ts";
import { readRawRgb } from "./raw-rgb.ts";
import { openY4m, type Y4mReadOptions } from "./y4m-reader.ts";

export type FrameFormat = "y4m" | "ppm" | "raw" | "png" | "video";
export const FRAME_FORMATS: FrameFormat[] = ["y4m", "ppm", "raw", "png", "video"];

export interface FrameSourceOptions {
  /** Frame size for raw rgb24 input (--size WxH). */
  size?: { width: number; height: number };
  /** Skips sniffing and extension rules. */
  format?: FrameFormat;
  /** Frame rate to report for formats that carry none (ppm, png, raw); default 25/1. */
  fps?: Rational;
  /** YUV conversion for y4m input. */
  y4m?: Y4mReadOptions;
  /** Replaces stdin for "-" (tests, or frames piped in from elsewhere). */
  stdin?: ByteInput;
}

/** True when stdin is a pipe or a non-empty file: a recipe with no --input then reads its frames there. */
export function stdinHasFrames(): boolean {
  try {
    const s = fstatSync(0);
    return s.isFIFO() || (s.isFile() && s.size > 0);
  } catch {
    return false;
  }
}

export interface FrameSource {
  meta: StreamMeta;
  /** Frames as they arrive; stopping early (break) releases the file, pipe or ffmpeg. */
  frames: AsyncIterable<Frame>;
}

const EXTENSION_FORMATS: Record<string, FrameFormat> = {
  ".y4m": "y4m",
  ".ppm": "ppm",
  ".pgm": "ppm",
  ".pnm": "ppm",
  ".png": "png",
  ".rgb": "raw",
  ".raw": "raw",
};

const Y4M_SNIFF = "YUV4MPEG2 ";

async function sniff(reader: ByteReader): Promise<FrameFormat> {
  const head = new TextDecoder("latin1").decode(await reader.peek(Y4M_SNIFF.length));
  if (head === Y4M_SNIFF) return "y4m";
  if (head.startsWith("P6") || head.startsWith("P5")) return "ppm";
  return "raw";
}

function checkFormat(format: string): FrameFormat {
  if (!FRAME_FORMATS.includes(format as FrameFormat)) {
    throw new UsageError(`unknown frame format "${format}": expected one of ${FRAME_FORMATS.join(", ")}`);
  }
  return format as FrameFormat;
}

async function openStream(
  reader: ByteReader,
  format: FrameFormat,
  what: string,
  opts: FrameSourceOptions,
  sniffed: boolean,
): Promise<FrameSource> {
  const fps = opts.fps ?? DEFAULT_FPS;
  switch (format) {
    case "y4m":
      return openY4m(reader, opts.y4m);
    case "ppm": {
      const s = await openPpm(reader);
      return { meta: { ...s.meta, fps }, frames: s.frames };
    }
    case "raw": {
      if (!opts.size) {
        await reader.cancel();
        throw new FrameError(
          sniffed
            ? `${what} is neither y4m ("YUV4MPEG2 ") nor ppm ("P6"): raw rgb24 input needs --size WxH`
            : `raw rgb24 input ${what} needs --size WxH`,
        );
      }
      return { meta: { ...opts.size, fps }, frames: readRawRgb(reader, opts.size) };
    }
    default:
      await reader.cancel();
      throw new UsageError(`${what}: format "${format}" cannot be read from a stream (use y4m, ppm or raw)`);
  }
}

async function openVideo(path: string, opts: FrameSourceOptions): Promise<FrameSource> {
  const ffmpeg = spawnDecoder(path);
  const reader = new ByteReader(ffmpeg.stdout);
  let meta: StreamMeta;
  let frames: AsyncGenerator<Frame, void, undefined>;
  try {
    ({ meta, frames } = await openY4m(reader, opts.y4m));
  } catch (e) {
    // No header usually means ffmpeg could not read the file; its message is the useful one.
    await ffmpeg.finished();
    throw e;
  }
  async function* decoded(): AsyncGenerator<Frame, void, undefined> {
    let complete = false;
    try {
      for await (const f of frames) yield f;
      complete = true;
    } catch (e) {
      await ffmpeg.finished();
      throw e;
    } finally {
      if (!complete) ffmpeg.kill();
    }
    await ffmpeg.finished();
  }
  return { meta, frames: decoded() };
}

/** Frames from `spec`; a source that ends before its first frame is a FrameError, not an empty video. */
export async function openFrameSource(spec: string, opts: FrameSourceOptions = {}): Promise<FrameSource> {
  const source = await openAny(spec, opts);
  return { ...source, frames: atLeastOne(source.frames, spec === "-" ? "stdin" : spec) };
}

/** One picture: a PNG, or the first frame of anything openFrameSource reads. */
export async function readImage(spec: string, opts: FrameSourceOptions = {}): Promise<Frame> {
  const { frames } = await openFrameSource(spec, opts);
  for await (const frame of frames) return frame; // leaving the loop closes the source (and any ffmpeg)
  throw new FrameError(`${spec} holds no frames`);
}

async function* atLeastOne(frames: AsyncIterable<Frame>, label: string): AsyncGenerator<Frame, void, undefined> {
  let count = 0;
  for await (const frame of frames) {
    count++;
    yield frame;
  }
  if (count === 0) throw new FrameError(`${label} holds no frames`);
}

async function openAny(spec: string, opts: FrameSourceOptions): Promise<FrameSource> {
  const forced = opts.format === undefined ? undefined : checkFormat(opts.format);
  if (spec === "-") {
    const reader = new ByteReader(opts.stdin ?? host.stdin());
    return openStream(reader, forced ?? (await sniff(reader)), "stdin", opts, forced === undefined);
  }
  let isDir: boolean;
  try {
    isDir = statSync(spec).isDirectory();
  } catch {
    throw new FrameError(`input not found: ${spec}`);
  }
  const format = forced ?? (isDir ? "png" : (EXTENSION_FORMATS[extname(spec).toLowerCase()] ?? "video"));
  const fps = opts.fps ?? DEFAULT_FPS;
  switch (format) {
    case "png": {
      if (isDir) return openPngFolder(spec, fps);
      const frame = await readPngFile(spec);
      async function* one(): AsyncGenerator<Frame, void, undefined> {
        yield frame;
      }
      return { meta: { width: frame.width, height: frame.height, fps }, frames: one() };
    }
    case "video":
      return openVideo(spec, opts);
    default:
      if (isDir) throw new UsageError(`${spec} is a folder; only PNG folders can be read`);
      return openStream(new ByteReader(host.readFileStream(spec)), format, spec, opts, false);
  }
}
