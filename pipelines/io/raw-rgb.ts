/**
 * Headerless rgb24: width*height*3 bytes a frame, back to back (ffmpeg's `-f rawvideo
 * -pix_fmt rgb24`). The size has to come from elsewhere (--size WxH).
 */
import { FrameError } from "../errors.ts";
import { ByteReader } from "./byte-reader.ts";
import { checkFrameSize, type ByteInput, type ByteSink, type Frame, type FrameWriter, type StreamMeta } from "./frame.ts";

export async function* readRawRgb(
  input: ByteInput | ByteReader,
  size: { width: number; height: number },
): AsyncGenerator<Frame, void, undefined> {
  const reader = input instanceof ByteReader ? input : new ByteReader(input);
  const bytes = size.width * size.height * 3;
  if (!(bytes > 0)) throw new FrameError(`raw rgb24: bad frame size ${size.width}x${size.height}`);
  try {
    for (let index = 1; ; index++) {
      const data = new Uint8Array(bytes);
      const got = await reader.readInto(data);
      if (got === 0) return;
      if (got < bytes) {
        throw new FrameError(
          `raw rgb24 stream truncated in frame ${index}: ${bytes - got} of its ${bytes} bytes are missing (is --size ${size.width}x${size.height} right?)`,
        );
      }
      yield { width: size.width, height: size.height, data };
    }
  } finally {
    await reader.cancel();
  }
}

export function createRawRgbWriter(sink: ByteSink, meta: StreamMeta): FrameWriter {
  let closed = false;
  return {
    async write(frame: Frame): Promise<void> {
      if (closed) throw new FrameError("raw rgb24 writer: write after close");
      checkFrameSize(frame, meta, "raw rgb24 writer");
      // Copied so the caller may reuse its buffer while the sink still holds ours.
      await sink.write(frame.data.slice());
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await sink.close?.();
    },
  };
}
