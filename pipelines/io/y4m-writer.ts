/**
 * YUV4MPEG2 out: the header goes out with the first frame (or at close for an empty stream),
 * and each frame is converted and handed to the sink the moment it is written; nothing is held
 * back, so a run that stops early leaves a valid stream of every finished frame.
 *
 *   const out = createY4mWriter(sink, { width: 512, height: 512, fps: { num: 24, den: 1 } });
 *   await out.write(frame); … await out.close();
 */
import { FrameError } from "../errors.ts";
import { checkFrameSize, type ByteSink, type Frame, type FrameWriter, type StreamMeta } from "./frame.ts";
import { formatY4mHeader, type Y4mColourspace } from "./y4m-header.ts";
import { rgbToYuv, yuvFrameBytes, type ChromaLayout, type YuvOptions } from "./yuv-rgb.ts";

export interface Y4mWriteOptions extends YuvOptions {
  /** Chroma layout written; default "420" (C420jpeg, what ffmpeg and most players expect). */
  chroma?: "420" | "422" | "444" | "mono";
}

const COLOURSPACE_FOR: Record<ChromaLayout, Y4mColourspace> = {
  "420": "420jpeg",
  "422": "422",
  "444": "444",
  mono: "mono",
};

const FRAME_LINE = new TextEncoder().encode("FRAME\n");

export function createY4mWriter(sink: ByteSink, meta: StreamMeta, opts: Y4mWriteOptions = {}): FrameWriter {
  const layout = opts.chroma ?? "420";
  const cs = COLOURSPACE_FOR[layout];
  if (!cs) throw new FrameError(`unknown y4m chroma layout "${layout}": expected one of 420, 422, 444, mono`);
  const convert: YuvOptions = { matrix: opts.matrix ?? "bt601", range: opts.range ?? "limited" };
  const header = new TextEncoder().encode(formatY4mHeader(meta, cs, convert.range));
  const planeBytes = yuvFrameBytes(layout, meta.width, meta.height);
  let headerSent = false;
  let closed = false;

  async function sendHeader(): Promise<void> {
    if (headerSent) return;
    headerSent = true;
    await sink.write(header);
  }

  return {
    async write(frame: Frame): Promise<void> {
      if (closed) throw new FrameError("y4m writer: write after close");
      checkFrameSize(frame, meta, "y4m writer");
      await sendHeader();
      // A fresh buffer per frame: the sink may keep a reference until its write settles.
      const out = new Uint8Array(FRAME_LINE.length + planeBytes);
      out.set(FRAME_LINE, 0);
      rgbToYuv(frame.data, frame.width, frame.height, layout, convert, out.subarray(FRAME_LINE.length));
      await sink.write(out);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await sendHeader();
      await sink.close?.();
    },
  };
}
