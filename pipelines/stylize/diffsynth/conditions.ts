/**
 * ControlNet conditions per frame (shared/specs/diffsynth.md §2): canny edges, depth (an ONNX
 * depth model), tile (the frame itself) and shuffle (DiffSynth's content shuffle of the style
 * image, the same picture for every frame, from a fixed seed).
 */
import { UsageError } from "../../errors.ts";
import type { Frame } from "../../io/frame.ts";
import type { Backend } from "../../runtime/backend.ts";
import { cannyTensor } from "../../sd/preprocess/canny.ts";
import type { ControlImage } from "../../sd/preprocess/control-image.ts";
import { DepthEstimator } from "../../sd/preprocess/depth.ts";
import { Rng } from "../../sd/random.ts";
import { cropResize } from "./frames.ts";

export const CONTROL_PROCESSORS = ["canny", "depth", "tile", "shuffle"] as const;
export type ControlProcessor = (typeof CONTROL_PROCESSORS)[number];

/** A frame's control image; disposing it frees what the processor made. */
export interface Condition extends Disposable {
  image: ControlImage;
}

export interface Processor extends Disposable {
  (frame: Frame): Condition;
}

export interface ProcessorOptions {
  depthModel?: string | null;
  /** The shuffle processor's input (resized to the frame size). */
  styleImage?: Frame | null;
  /** numpy seed 0 in the reference. */
  shuffleSeed?: number;
}

const plain = (fn: (frame: Frame) => Condition, dispose = () => {}): Processor => Object.assign(fn, { [Symbol.dispose]: dispose });
const borrowed = (image: ControlImage): Condition => ({ image, [Symbol.dispose]: () => {} });

export function createProcessor(processor: ControlProcessor, backend: Backend, options: ProcessorOptions = {}): Processor {
  switch (processor) {
    case "canny":
      return plain((frame) => {
        const image = cannyTensor(frame, backend).image;
        return { image, [Symbol.dispose]: () => image.dispose() };
      });
    case "tile":
      return plain(borrowed);
    case "depth": {
      if (!options.depthModel) throw new UsageError("controlnet_processor depth needs an ONNX depth model: --depth-model FILE");
      const depth = DepthEstimator.load(options.depthModel, backend, { normalize: "frame" });
      return plain((frame) => borrowed(depth.estimate(frame)), () => depth.dispose());
    }
    case "shuffle": {
      const style = options.styleImage;
      if (!style) throw new UsageError("controlnet_processor shuffle needs a style image: --style-image FILE");
      const seed = options.shuffleSeed ?? 0;
      const made = new Map<string, Frame>();
      return plain((frame) => {
        const key = `${frame.width}x${frame.height}`;
        let shuffled = made.get(key);
        if (!shuffled) made.set(key, (shuffled = contentShuffle(cropResize(style, frame.width, frame.height), seed)));
        return borrowed(shuffled);
      });
    }
    default:
      throw new UsageError(`controlnet_processor "${processor}" is not one of ${CONTROL_PROCESSORS.join(", ")}`);
  }
}

/**
 * Content shuffle: each pixel is read from where two smooth random displacement fields send it,
 * so colours and textures stay while the layout is scrambled (the idea of controlnet_aux's
 * ContentShuffleDetector; our own fields: seeded normals on a coarse grid every `cell` pixels,
 * bilinearly upsampled, scaled to ±`amount` of the side).
 */
export function contentShuffle(image: Frame, seed = 0, cell = 16, amount = 0.5): Frame {
  const { width: w, height: h } = image;
  const gw = Math.ceil(w / cell) + 1, gh = Math.ceil(h / cell) + 1;
  const rng = new Rng(seed);
  const fx = rng.normal(new Float32Array(gw * gh));
  const fy = rng.normal(new Float32Array(gw * gh));
  const at = (f: Float32Array, x: number, y: number) => {
    const gx = x / cell, gy = y / cell;
    const x0 = Math.floor(gx), y0 = Math.floor(gy), tx = gx - x0, ty = gy - y0;
    const g = (i: number, j: number) => f[Math.min(j, gh - 1) * gw + Math.min(i, gw - 1)]!;
    return (g(x0, y0) * (1 - tx) + g(x0 + 1, y0) * tx) * (1 - ty) + (g(x0, y0 + 1) * (1 - tx) + g(x0 + 1, y0 + 1) * tx) * ty;
  };
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // reflect at the borders so every pixel reads a real one
      const sx = reflect(Math.round(x + amount * w * at(fx, x, y)), w);
      const sy = reflect(Math.round(y + amount * h * at(fy, x, y)), h);
      out.set(image.data.subarray((sy * w + sx) * 3, (sy * w + sx) * 3 + 3), (y * w + x) * 3);
    }
  }
  return { width: w, height: h, data: out };
}

function reflect(v: number, n: number): number {
  const p = 2 * n;
  const m = ((v % p) + p) % p;
  return m < n ? m : p - 1 - m;
}
