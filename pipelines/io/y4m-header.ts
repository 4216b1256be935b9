/**
 * The YUV4MPEG2 stream header, both ways. One line: "YUV4MPEG2" then space-separated tags
 * W<width> H<height> F<num>:<den> I<p|t|b|m|?> A<num>:<den> C<colour space> X<anything>.
 * Ref: the y4m format as ffmpeg's yuv4mpegpipe muxer/demuxer and mjpegtools write it.
 */
import { FrameError } from "../errors.ts";
import { checkFrameDimensions, DEFAULT_FPS, type Rational, type StreamMeta } from "./frame.ts";
import type { ChromaLayout, ChromaSiting, YuvRange } from "./yuv-rgb.ts";

export const Y4M_MAGIC = "YUV4MPEG2";

/** The 8-bit colour spaces we read; each maps to a plane layout and a chroma siting. */
const COLOURSPACES = {
  "420jpeg": { layout: "420", siting: "center", alpha: false },
  "420paldv": { layout: "420", siting: "center", alpha: false },
  "420mpeg2": { layout: "420", siting: "left", alpha: false },
  "420": { layout: "420", siting: "center", alpha: false },
  "422": { layout: "422", siting: "left", alpha: false },
  "444": { layout: "444", siting: "center", alpha: false },
  "444alpha": { layout: "444", siting: "center", alpha: true },
  mono: { layout: "mono", siting: "center", alpha: false },
} satisfies Record<string, { layout: ChromaLayout; siting: ChromaSiting; alpha: boolean }>;

export type Y4mColourspace = keyof typeof COLOURSPACES;
/** In the order people look for them (Object.keys would put the numeric-looking ones first). */
export const Y4M_COLOURSPACES: Y4mColourspace[] = [
  "420jpeg",
  "420paldv",
  "420mpeg2",
  "420",
  "422",
  "444",
  "444alpha",
  "mono",
];

export interface Y4mHeader {
  width: number;
  height: number;
  fps: Rational;
  /** Pixel aspect ratio; absent when the stream says A0:0 (unknown) or nothing. */
  aspect?: Rational;
  /** p progressive, t top field first, b bottom first, m mixed, ? unknown. */
  interlace: string;
  colourspace: Y4mColourspace;
  /** From an XCOLORRANGE=FULL|LIMITED extension, when present. */
  range?: YuvRange;
  /** X tags, without the X. */
  extensions: string[];
}

export function colourspaceLayout(cs: Y4mColourspace): { layout: ChromaLayout; siting: ChromaSiting; alpha: boolean } {
  return COLOURSPACES[cs];
}

function bad(what: string): never {
  throw new FrameError(`y4m header: ${what}`);
}

function parseRatio(value: string, tag: string, name: string, example: string, allowZero: boolean): Rational {
  const m = /^(\d+):(\d+)$/.exec(value);
  const num = m ? Number(m[1]) : NaN;
  const den = m ? Number(m[2]) : NaN;
  const zeroOk = allowZero && num === 0 && den === 0;
  if (!m || (!zeroOk && (num <= 0 || den <= 0))) {
    bad(`bad ${name} "${tag}${value}" (expected ${tag}<num>:<den>, e.g. ${tag}${example})`);
  }
  return { num, den };
}

function parseDimension(value: string, tag: string, name: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 1 << 16)) bad(`bad ${name} "${tag}${value}" (expected a positive integer)`);
  return n;
}

/** Parses the header line (without its "\n"). Any problem is a one-line FrameError. */
export function parseY4mHeader(line: string): Y4mHeader {
  if (line.length === 0) bad("stream is empty");
  if (!line.startsWith(Y4M_MAGIC) || (line.length > Y4M_MAGIC.length && line[Y4M_MAGIC.length] !== " ")) {
    bad(`stream does not start with "${Y4M_MAGIC} " (got "${printable(line.slice(0, 16))}")`);
  }
  let width: number | undefined;
  let height: number | undefined;
  let fps: Rational | undefined;
  let aspect: Rational | undefined;
  let interlace = "p";
  let colourspace: Y4mColourspace = "420jpeg";
  let range: YuvRange | undefined;
  const extensions: string[] = [];
  for (const token of line.slice(Y4M_MAGIC.length).split(" ")) {
    if (token === "") continue;
    const tag = token[0]!;
    const value = token.slice(1);
    switch (tag) {
      case "W":
        width = parseDimension(value, tag, "width");
        break;
      case "H":
        height = parseDimension(value, tag, "height");
        break;
      case "F":
        fps = parseRatio(value, tag, "frame rate", "30000:1001", false);
        break;
      case "A": {
        const a = parseRatio(value, tag, "pixel aspect", "1:1", true);
        aspect = a.num === 0 ? undefined : a;
        break;
      }
      case "I":
        if (!/^[ptbm?]$/.test(value)) bad(`bad interlacing "I${value}" (expected one of Ip, It, Ib, Im, I?)`);
        interlace = value;
        break;
      case "C":
        if (!(value in COLOURSPACES)) {
          bad(`unsupported colour space "C${value}" (supported: ${Y4M_COLOURSPACES.map((c) => "C" + c).join(", ")})`);
        }
        colourspace = value as Y4mColourspace;
        break;
      case "X":
        extensions.push(value);
        if (value === "COLORRANGE=FULL") range = "full";
        else if (value === "COLORRANGE=LIMITED") range = "limited";
        break;
      default:
        bad(`unknown tag "${printable(token)}" (valid tags: W H F I A C X)`);
    }
  }
  if (width === undefined) bad("missing width (W)");
  if (height === undefined) bad("missing height (H)");
  checkFrameDimensions(width, height, "y4m header");
  return {
    width,
    height,
    fps: fps ?? DEFAULT_FPS,
    ...(aspect ? { aspect } : {}),
    interlace,
    colourspace,
    ...(range ? { range } : {}),
    extensions,
  };
}

/** The header line, "\n" included, that describes `meta` in colour space `cs`. */
export function formatY4mHeader(meta: StreamMeta, cs: Y4mColourspace, range?: YuvRange): string {
  const tags = [
    Y4M_MAGIC,
    `W${meta.width}`,
    `H${meta.height}`,
    `F${meta.fps.num}:${meta.fps.den}`,
    "Ip",
    `A${meta.aspect ? `${meta.aspect.num}:${meta.aspect.den}` : "0:0"}`,
    `C${cs}`,
  ];
  if (range === "full") tags.push("XCOLORRANGE=FULL");
  return tags.join(" ") + "\n";
}

/** Header text is ASCII; anything else is shown escaped so the error stays one readable line. */
export function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
