/**
 * YUV4MPEG2 in: frames are converted to rgb24 and yielded as each one's bytes arrive, so a
 * pipe from ffmpeg or a previous recipe streams through with one frame in memory.
 *
 *   const { meta, frames } = await openY4m(host.stdin());
 *   for await (const frame of frames) …
 */
import { FrameError } from "../errors.ts";
import { ByteReader } from "./byte-reader.ts";
import type { ByteInput, Frame, StreamMeta } from "./frame.ts";
import { colourspaceLayout, parseY4mHeader, printable, Y4M_MAGIC, type Y4mHeader } from "./y4m-header.ts";
import { yuvFrameBytes, yuvToRgb, type YuvReadOptions } from "./yuv-rgb.ts";

/**
 * Conversion overrides. The matrix defaults to BT.601, the range to the stream's XCOLORRANGE
 * tag or else limited, the chroma siting to what the C tag implies.
 */
export type Y4mReadOptions = YuvReadOptions;

export interface Y4mStream {
  header: Y4mHeader;
  meta: StreamMeta;
  frames: AsyncGenerator<Frame, void, undefined>;
}

/** Longer header or FRAME lines than this are not y4m. */
const MAX_LINE = 4096;
const FRAME_TAG = "FRAME";

function decodeAscii(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** Reads the header now and returns the frames to come. Accepts a ByteReader that already sniffed the input. */
export async function openY4m(input: ByteInput | ByteReader, opts: Y4mReadOptions = {}): Promise<Y4mStream> {
  const reader = input instanceof ByteReader ? input : new ByteReader(input);
  let header: Y4mHeader;
  try {
    const first = await reader.readLine(MAX_LINE);
    if (first && !first.terminated) {
      const text = decodeAscii(first.line);
      // Not y4m at all says more than "no end of line": let the parser name the bad signature.
      if (!text.startsWith(Y4M_MAGIC)) parseY4mHeader(text);
      throw new FrameError(
        first.line.length >= MAX_LINE
          ? `y4m header: no end of line within ${MAX_LINE} bytes`
          : "y4m header: stream ends inside the header line",
      );
    }
    header = parseY4mHeader(first ? decodeAscii(first.line) : "");
  } catch (e) {
    await reader.cancel();
    throw e;
  }
  const meta: StreamMeta = {
    width: header.width,
    height: header.height,
    fps: header.fps,
    ...(header.aspect ? { aspect: header.aspect } : {}),
  };
  return { header, meta, frames: y4mFrames(reader, header, opts) };
}

/**
 * The frames of a y4m stream. `onHeader` sees the header before the first frame is read,
 * for callers that want the metadata without openY4m's two steps.
 */
export async function* readY4m(
  input: ByteInput | ByteReader,
  opts: Y4mReadOptions & { onHeader?: (header: Y4mHeader) => void } = {},
): AsyncGenerator<Frame, void, undefined> {
  const { onHeader, ...convert } = opts;
  const stream = await openY4m(input, convert);
  onHeader?.(stream.header);
  yield* stream.frames;
}

async function* y4mFrames(
  reader: ByteReader,
  header: Y4mHeader,
  opts: Y4mReadOptions,
): AsyncGenerator<Frame, void, undefined> {
  const { width, height } = header;
  const { layout, siting, alpha } = colourspaceLayout(header.colourspace);
  const convert: YuvReadOptions = {
    matrix: opts.matrix ?? "bt601",
    range: opts.range ?? header.range ?? "limited",
    upsample: opts.upsample ?? "bilinear",
    siting: opts.siting ?? siting,
  };
  const planeBytes = yuvFrameBytes(layout, width, height);
  const size = planeBytes + (alpha ? width * height : 0);
  const yuv = new Uint8Array(size);
  try {
    for (let index = 1; ; index++) {
      const line = await reader.readLine(MAX_LINE);
      if (line === null) return;
      const text = decodeAscii(line.line);
      const cutInTag = !line.terminated && FRAME_TAG.startsWith(text);
      if (!cutInTag && (!text.startsWith(FRAME_TAG) || (text.length > FRAME_TAG.length && text[FRAME_TAG.length] !== " "))) {
        throw new FrameError(
          `y4m frame ${index}: expected a "FRAME" line at byte ${reader.position - line.line.length - (line.terminated ? 1 : 0)}, got "${printable(text.slice(0, 24))}"`,
        );
      }
      if (!line.terminated) {
        throw new FrameError(
          `y4m stream truncated in frame ${index}: the FRAME line has no end of line and all ${size} bytes of pixels are missing`,
        );
      }
      const got = await reader.readInto(yuv);
      if (got < size) {
        throw new FrameError(
          `y4m stream truncated in frame ${index}: ${size - got} of its ${size} bytes are missing`,
        );
      }
      const frame: Frame = { width, height, data: new Uint8Array(width * height * 3) };
      yuvToRgb(yuv, width, height, layout, convert, frame.data);
      yield frame;
    }
  } finally {
    await reader.cancel();
  }
}
