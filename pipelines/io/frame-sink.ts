/**
 * Where a recipe's frames go, by one spec string:
 *   "-"                stdout as y4m (and nothing else ever goes to stdout)
 *   out.y4m / out.ppm  streams written frame by frame       out.rgb   raw rgb24
 *   out.png            one image; a second frame makes out-00001.png, out-00002.png, …
 *   out/frames/        a folder (trailing slash or existing folder): 00001.png, 00002.png, …
 *   out.mp4 / .webm / .gif   encoded by ffmpeg; close() waits for it to finish the file
 * Parent folders are created. Every write() resolves once its frame has left the process.
 *
 *   await using out = openFrameSink("out.mp4", src.meta);
 *   for await (const f of frames) await out.write(f);
 */
import { statSync } from "node:fs";
import { extname } from "node:path";
import { UsageError } from "../errors.ts";
import { openFileSink, stdoutSink } from "./byte-sinks.ts";
import { isVideoOutput, spawnEncoder, VIDEO_OUTPUT_EXTENSIONS, VIDEO_PRESETS, type VideoPreset } from "./ffmpeg.ts";
import type { ByteSink, Frame, FrameWriter, StreamMeta } from "./frame.ts";
import { createPngFileWriter, createPngFolderWriter } from "./png-files.ts";
import { createPpmWriter } from "./ppm.ts";
import { createRawRgbWriter } from "./raw-rgb.ts";
import { createY4mWriter, type Y4mWriteOptions } from "./y4m-writer.ts";

/** The metadata key (a PNG tEXt keyword) under which outputs carry how they were made. */
export const PROVENANCE_KEY = "latentloom";

/** What --format may name: a video preset, or a PNG sequence. */
export const OUTPUT_FORMATS = [...(Object.keys(VIDEO_PRESETS) as VideoPreset[]), "png"] as const;
export type OutputFormat = VideoPreset | "png";

export interface FrameSinkOptions {
  /** Overrides what the extension says; an output without an extension gets the format's own. */
  format?: OutputFormat | null;
  /** How the frames were made (PNG tEXt chunks, container metadata); y4m and raw carry none. */
  metadata?: Readonly<Record<string, string>>;
  /** YUV conversion and chroma layout for y4m output (not used for the ffmpeg pipe). */
  y4m?: Y4mWriteOptions;
  /** Replaces stdout for "-" (tests, or frames piped elsewhere). */
  stdout?: ByteSink;
  /** A PNG folder numbers its files from here (0: 00001.png), so a resumed run completes the folder. */
  firstIndex?: number;
}

export interface FrameSink extends FrameWriter, AsyncDisposable {}

const STREAM_EXTENSIONS = [".y4m", ".ppm", ".rgb", ".raw", ".png"];

function isFolder(spec: string): boolean {
  if (spec.endsWith("/")) return true;
  try {
    return statSync(spec).isDirectory();
  } catch {
    return false;
  }
}

/** A file sink opened on the first write, so that opening stays synchronous. */
function lazyFile(path: string): ByteSink {
  let sink: Promise<ByteSink> | undefined;
  const get = () => (sink ??= openFileSink(path));
  return {
    async write(bytes) {
      await (await get()).write(bytes);
    },
    async close() {
      await (await get()).close?.();
    },
  };
}

/** Writers that stream y4m into ffmpeg, which makes the video file. */
function videoWriter(path: string, meta: StreamMeta, opts: FrameSinkOptions): FrameWriter {
  const preset = opts.format && opts.format !== "png" ? opts.format : undefined;
  // mp4 and mov keep only the tags they know: the provenance goes where players show it, `comment`.
  const metadata = opts.metadata && Object.fromEntries(Object.entries(opts.metadata).map(([k, v]) => [k === PROVENANCE_KEY ? "comment" : k, v]));
  const encoder = spawnEncoder(path, undefined, { preset, metadata });
  // 4:4:4 on the pipe: ffmpeg does the one chroma subsampling the codec needs.
  const y4m = createY4mWriter(encoder.stdin, meta, { chroma: "444" });
  return {
    write: (frame) => y4m.write(frame),
    async close() {
      await y4m.close();
      await encoder.finished();
    },
  };
}

/** The output path a --format implies: its extension added when the path has none; a clash is a UsageError. */
export function outputPath(spec: string, format: OutputFormat | null | undefined): string {
  if (!format) return spec;
  const ext = extname(spec).toLowerCase();
  if (format === "png") {
    if (spec === "-" || (ext !== "" && ext !== ".png")) throw new UsageError(`--format png writes a PNG sequence, not ${spec}: give a folder/ or a .png name`);
    return ext === "" && !spec.endsWith("/") ? `${spec}/` : spec;
  }
  const want = VIDEO_PRESETS[format].extension;
  if (spec === "-") throw new UsageError(`--format ${format} writes a ${want} file; stdout carries y4m only`);
  if (ext === "") return `${spec}${want}`;
  if (ext !== want) throw new UsageError(`--format ${format} writes ${want} files, not ${spec}`);
  return spec;
}

function writerFor(spec: string, meta: StreamMeta, opts: FrameSinkOptions): FrameWriter {
  if (spec === "-") return createY4mWriter(opts.stdout ?? stdoutSink(), meta, opts.y4m);
  if (isFolder(spec)) return createPngFolderWriter(spec, meta, opts.metadata, opts.firstIndex);
  if (isVideoOutput(spec)) return videoWriter(spec, meta, opts);
  switch (extname(spec).toLowerCase()) {
    case ".y4m":
      return createY4mWriter(lazyFile(spec), meta, opts.y4m);
    case ".ppm":
      return createPpmWriter(lazyFile(spec), meta);
    case ".rgb":
    case ".raw":
      return createRawRgbWriter(lazyFile(spec), meta);
    case ".png":
      return createPngFileWriter(spec, meta, opts.metadata);
  }
  throw new UsageError(
    `unknown output "${spec}": expected "-" (stdout, y4m), a folder ending in "/", or a file ending in ${[...STREAM_EXTENSIONS, ...VIDEO_OUTPUT_EXTENSIONS].join(", ")}`,
  );
}

export function openFrameSink(spec: string, meta: StreamMeta, opts: FrameSinkOptions = {}): FrameSink {
  const writer = writerFor(outputPath(spec, opts.format), meta, opts);
  let closing: Promise<void> | undefined;
  return {
    async write(frame: Frame) {
      await writer.write(frame);
      // One turn of the event loop per frame: a write that resolves at once (a PNG, a pipe with
      // room) would otherwise keep signal handlers from running until the whole video is done.
      await new Promise((resolve) => setImmediate(resolve));
    },
    close: () => (closing ??= writer.close()),
    [Symbol.asyncDispose]: () => (closing ??= writer.close()),
  };
}
