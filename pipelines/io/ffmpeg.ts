/**
 * Video files through an ffmpeg child process. We only ever speak y4m with it: it decodes any
 * video into a y4m stream on its stdout, and encodes the y4m stream we write to its stdin.
 * Which ffmpeg: LATENTLOOM_FFMPEG, else `ffmpeg` on PATH, else the @ffmpeg-installer binary.
 */
import { existsSync, statSync } from "node:fs";
import { dirname, extname } from "node:path";
import { createRequire } from "node:module";
import { host, type HostProcess } from "../../ffi/host/index.ts";
import { FrameError } from "../errors.ts";
import { streamSink } from "./byte-sinks.ts";
import { makeFolder, type ByteSink } from "./frame.ts";

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The ffmpeg binary to use, or null when there is none. A LATENTLOOM_FFMPEG that names no file is an error. */
export function findFfmpeg(): string | null {
  const forced = process.env.LATENTLOOM_FFMPEG;
  if (forced) {
    if (!isFile(forced)) throw new FrameError(`LATENTLOOM_FFMPEG=${forced}: no such file`);
    return forced;
  }
  const onPath = host.which("ffmpeg");
  if (onPath) return onPath;
  try {
    // The package's index throws when its platform binary is missing; that just means "none".
    const installed = createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg") as { path?: string };
    if (installed.path && isFile(installed.path)) return installed.path;
  } catch {}
  return null;
}

export function requireFfmpeg(): string {
  const path = findFfmpeg();
  if (path) return path;
  throw new FrameError(
    "ffmpeg not found: set LATENTLOOM_FFMPEG, put ffmpeg on PATH, or install @ffmpeg-installer/ffmpeg",
    "y4m, ppm, png and raw rgb24 work without ffmpeg",
  );
}

/** ffmpeg's last non-empty stderr line, the one that says what went wrong. */
export function lastLine(text: string): string {
  const lines = text.split(/\r?\n|\r/).map((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i]) return lines[i]!;
  return "";
}

/** A running ffmpeg whose stderr is collected; `finished` throws a one-line FrameError on failure. */
export interface FfmpegProcess {
  process: HostProcess;
  /** Resolves when ffmpeg exits 0; otherwise rejects with its last stderr line. */
  finished(): Promise<void>;
  /** Ends ffmpeg early (the consumer stopped reading). */
  kill(): void;
}

function watch(proc: HostProcess, what: string): FfmpegProcess {
  const stderr = proc.stderr ? new Response(proc.stderr).text() : Promise.resolve("");
  let killed = false;
  let result: Promise<void> | undefined;
  return {
    process: proc,
    finished() {
      result ??= (async () => {
        const code = await proc.exited;
        const text = await stderr;
        if (code === 0 || killed) return;
        const line = lastLine(text);
        throw new FrameError(`ffmpeg failed ${what} (exit ${code}): ${line || "no message on stderr"}`);
      })();
      return result;
    },
    kill() {
      killed = true;
      proc.kill();
    },
  };
}

const COMMON = ["-hide_banner", "-nostdin", "-loglevel", "error"];

/**
 * Spawns ffmpeg decoding the first video stream of `path` into y4m on its stdout: 4:4:4 so no
 * chroma is lost on the way, BT.601 limited range whatever the file's matrix and range, since
 * that is what our y4m reader assumes.
 */
export function spawnDecoder(path: string, ffmpeg = requireFfmpeg()): FfmpegProcess & { stdout: ReadableStream<Uint8Array> } {
  if (!existsSync(path)) throw new FrameError(`input video not found: ${path}`);
  const proc = host.spawn({
    cmd: [
      ffmpeg,
      ...COMMON,
      "-i",
      path,
      "-map",
      "0:v:0",
      "-vf",
      "scale=out_color_matrix=bt601:out_range=tv,format=yuv444p",
      "-f",
      "yuv4mpegpipe",
      "-",
    ],
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { ...watch(proc, `decoding ${path}`), stdout: proc.stdout! };
}

/**
 * Video presets, named as ComfyUI's VideoHelperSuite users know them. Our y4m pipe is BT.601
 * 4:4:4 at limited range; each preset converts it to the colours it tags (BT.709 for the HD ones).
 */
const BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"];
const TO_BT709 = "scale=in_color_matrix=bt601:in_range=tv:out_color_matrix=bt709:out_range=tv";
export const VIDEO_PRESETS = {
  // H.264 in yuv420p needs even sizes: pad by one black row/column rather than lose one.
  "h264-mp4": {
    extension: ".mp4",
    args: [
      "-vf", `pad=ceil(iw/2)*2:ceil(ih/2)*2,${TO_BT709},format=yuv420p`,
      "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "19", "-preset", "medium", ...BT709, "-movflags", "+faststart",
    ],
  },
  webm: {
    extension: ".webm",
    args: ["-vf", `${TO_BT709},format=yuv420p`, "-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-crf", "30", "-b:v", "0", ...BT709],
  },
  // One palette for the whole clip, made from every frame, for the least banding.
  gif: { extension: ".gif", args: ["-vf", "split[a][b];[a]palettegen[p];[b][p]paletteuse", "-loop", "0"] },
  // ProRes 422 HQ, 10-bit, for editing.
  prores: {
    extension: ".mov",
    args: ["-vf", `${TO_BT709},format=yuv422p10le`, "-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le", ...BT709],
  },
} as const satisfies Record<string, { extension: string; args: readonly string[] }>;
export type VideoPreset = keyof typeof VIDEO_PRESETS;

const PRESET_BY_EXTENSION = new Map(Object.entries(VIDEO_PRESETS).map(([name, p]) => [p.extension as string, name as VideoPreset]));
export const VIDEO_OUTPUT_EXTENSIONS = [...PRESET_BY_EXTENSION.keys()];

export function isVideoOutput(path: string): boolean {
  return PRESET_BY_EXTENSION.has(extname(path).toLowerCase());
}

/** The preset a file name asks for by its extension (.mp4 → h264-mp4, .mov → prores …). */
export function presetForPath(path: string): VideoPreset | undefined {
  return PRESET_BY_EXTENSION.get(extname(path).toLowerCase());
}

/**
 * Spawns ffmpeg encoding the y4m stream written to `stdin` into `path` with a preset (by default
 * the one its extension names: .mp4, .webm, .gif, .mov), tagging `metadata` into the container.
 * Close `stdin`, then await `finished()` for the file to be complete.
 */
export function spawnEncoder(
  path: string,
  ffmpeg = requireFfmpeg(),
  options: { preset?: VideoPreset; metadata?: Readonly<Record<string, string>> } = {},
): FfmpegProcess & { stdin: ByteSink } {
  const preset = options.preset ?? presetForPath(path);
  if (!preset) {
    throw new FrameError(`cannot encode "${path}": video outputs are ${VIDEO_OUTPUT_EXTENSIONS.join(", ")}`);
  }
  const metadata = Object.entries(options.metadata ?? {}).flatMap(([k, v]) => ["-metadata", `${k}=${v}`]);
  const args = [...VIDEO_PRESETS[preset].args, ...metadata];
  makeFolder(dirname(path));
  const proc = host.spawn({
    cmd: [ffmpeg, ...COMMON, "-y", "-f", "yuv4mpegpipe", "-i", "-", ...args, path],
    stdin: "pipe",
    stdout: "ignore",
    stderr: "pipe",
  });
  const watched = watch(proc, `encoding ${path}`);
  const pipe = streamSink(proc.stdin!, true);
  // A write that fails because ffmpeg already quit says less than ffmpeg's own message does.
  const stdin: ByteSink = {
    async write(bytes) {
      try {
        await pipe.write(bytes);
      } catch (e) {
        await watched.finished();
        throw new FrameError(`ffmpeg stopped reading while encoding ${path}: ${(e as Error).message}`);
      }
    },
    async close() {
      try {
        await pipe.close?.();
      } catch {}
    },
  };
  return { ...watched, stdin };
}

/** Runs ffmpeg with `args` to completion (tests and one-off conversions); failure is one line. */
export async function runFfmpeg(args: string[], ffmpeg = requireFfmpeg()): Promise<void> {
  const proc = host.spawn({ cmd: [ffmpeg, ...COMMON, ...args], stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  await watch(proc, `writing ${args.at(-1)}`).finished();
}
