/**
 * Frames in and out of video latents [B, C, T, h, w] (channels before frames, as video UNets take
 * them), as device copies: one plane per channel, no host round trip.
 */
import { Tensor } from "../runtime/tensor.ts";

function layout(clips: Tensor) {
  const [, channels = 4, frames = 1, h = 0, w = 0] = clips.shape;
  const plane = h * w * (clips.byteLength / clips.size);
  /** Byte offset of frame j, channel c of clip b. */
  const at = (b: number, c: number, j: number) => clips.byteOffset + ((b * channels + c) * frames + j) * plane;
  return { channels, h, w, plane, at };
}

/** Frames [from, to) of clip b, as a new [1, C, to − from, h, w] (an exact copy). */
export function clipFrames(clips: Tensor, b: number, from: number, to: number): Tensor {
  const { channels, h, w, plane, at } = layout(clips);
  const n = to - from;
  const out = Tensor.uninitialized(clips.backend, clips.dtype, [1, channels, n, h, w]);
  if (n > 0) for (let c = 0; c < channels; c++) clips.backend.copy(out.storage, c * n * plane, clips.storage, at(b, c, from), n * plane);
  return out;
}

/** Frame j of clip b, as a new [1, C, h, w]. */
export function clipFrame(clips: Tensor, b: number, j: number): Tensor {
  const { channels, h, w, plane, at } = layout(clips);
  const out = Tensor.uninitialized(clips.backend, clips.dtype, [1, channels, h, w]);
  for (let c = 0; c < channels; c++) clips.backend.copy(out.storage, c * plane, clips.storage, at(b, c, j), plane);
  return out;
}

/** Writes `frame` [1, C, h, w] as frame j of clip b. */
export function writeClipFrame(clips: Tensor, b: number, j: number, frame: Tensor): void {
  const { channels, plane, at } = layout(clips);
  for (let c = 0; c < channels; c++) clips.backend.copy(clips.storage, at(b, c, j), frame.storage, frame.byteOffset + c * plane, plane);
}
