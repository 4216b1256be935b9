import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Frame } from "../../../../pipelines/io/frame.ts";
import { GraphBuilder } from "../../../../pipelines/onnx/model-builder.ts";
import { CpuBackend } from "../../../../pipelines/runtime/cpu-backend.ts";
import { DepthEstimator } from "../../../../pipelines/sd/preprocess/depth.ts";

const backend = new CpuBackend();
const dir = mkdtempSync(join(tmpdir(), "depth-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LUMA = [0.299, 0.587, 0.114];

/** A "depth model": depth = 1 − luma of its [0, 1] input, as [1, 1, H, W] (or [1, H, W]). */
function depthModel(name: string, options: { rank3?: boolean; size?: number } = {}): string {
  const g = new GraphBuilder(name);
  const s = options.size ?? "h";
  const x = g.input("pixel_values", "f32", [1, 3, s, options.size ?? "w"]);
  const w = g.initializer("w", Float32Array.from(LUMA), [1, 3, 1, 1]);
  const one = g.initializer("one", Float32Array.of(1), []);
  let y = g.node("Sub", [one, g.node("Conv", [x, w])]);
  if (options.rank3) y = g.node("Squeeze", [y, g.initializer("axes", BigInt64Array.of(1n), [1])]);
  g.output(y, "f32", options.rank3 ? [1, s, options.size ?? "w"] : [1, 1, s, options.size ?? "w"], "predicted_depth");
  return g.save(join(dir, `${name}.onnx`), { opset: 17 });
}

function gradientFrame(width: number, height: number, brightness: number): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const x = i % width, y = Math.floor(i / width);
    data[3 * i] = Math.round(brightness * (x / (width - 1)));
    data[3 * i + 1] = Math.round(brightness * (y / (height - 1)));
    data[3 * i + 2] = 60;
  }
  return { width, height, data };
}

const depthOf = (f: Frame) => Array.from({ length: f.width * f.height }, (_, i) => 1 - (LUMA[0]! * f.data[3 * i]! + LUMA[1]! * f.data[3 * i + 1]! + LUMA[2]! * f.data[3 * i + 2]!) / 255);

/** Greatest |got − want| over the grey values, and whether the three channels agree. */
function compare(got: Frame, want: number[]) {
  let worst = 0, grey = true;
  want.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(got.data[3 * i]! - v));
    grey &&= got.data[3 * i] === got.data[3 * i + 1] && got.data[3 * i] === got.data[3 * i + 2];
  });
  return { worst, grey };
}

describe("DepthEstimator with a 1 − luma model", () => {
  const frame = gradientFrame(24, 20, 255);

  for (const rank3 of [false, true]) {
    test(`normalises a frame to max 255 (output rank ${rank3 ? 3 : 4})`, () => {
      using depth = DepthEstimator.load(depthModel(`luma${rank3 ? 3 : 4}`, { rank3 }), backend, { mean: 0, std: 1 });
      const got = depth.estimate(frame);
      const d = depthOf(frame), max = Math.max(...d);
      // float rounding on either side may move a value across an integer: at most 1 grey level
      expect(compare(got, d.map((v) => Math.trunc((v * 255) / max)))).toEqual({ worst: expect.any(Number), grey: true });
      expect(compare(got, d.map((v) => Math.trunc((v * 255) / max))).worst).toBeLessThanOrEqual(1);
      expect([got.width, got.height, Math.max(...got.data)]).toEqual([24, 20, 255]);
    });
  }

  test("per frame, a darker frame still reaches 255; over the clip it keeps the brighter frame's scale", () => {
    const bright = gradientFrame(24, 20, 255), dark = gradientFrame(24, 20, 255);
    dark.data.forEach((v, i) => (dark.data[i] = Math.round(v * 0.5) + 100)); // less deep everywhere
    using perFrame = DepthEstimator.load(depthModel("frame"), backend, { mean: 0, std: 1 });
    using clip = DepthEstimator.load(depthModel("clip"), backend, { mean: 0, std: 1, normalize: "clip" });
    perFrame.estimate(bright);
    clip.estimate(bright);
    expect(Math.max(...perFrame.estimate(dark).data)).toBe(255);
    const got = clip.estimate(dark);
    const runningMax = Math.max(...depthOf(bright), ...depthOf(dark));
    expect(compare(got, depthOf(dark).map((v) => Math.trunc((v * 255) / runningMax))).worst).toBeLessThanOrEqual(1);
    expect(Math.max(...got.data)).toBeLessThan(200);
    clip.reset();
    expect(Math.max(...clip.estimate(dark).data)).toBe(255);
  });

  test("a model with a fixed input size gets the frame resized in and its depth resized back", () => {
    using depth = DepthEstimator.load(depthModel("fixed", { size: 16 }), backend, { mean: 0, std: 1 });
    const uniform: Frame = { width: 40, height: 24, data: new Uint8Array(40 * 24 * 3).fill(90) };
    const got = depth.estimate(uniform);
    expect([got.width, got.height, got.data.length]).toEqual([40, 24, 40 * 24 * 3]);
    expect(got.data.every((v) => v === 255)).toBe(true);
  });

  test("a model without a [1, 3, H, W] input is refused, naming it", () => {
    const g = new GraphBuilder("bad");
    const x = g.input("x", "f32", [1, "n"]);
    g.output(g.node("Identity", [x]), "f32", [1, "n"], "y");
    const path = g.save(join(dir, "bad.onnx"), { opset: 17 });
    expect(() => DepthEstimator.load(path, backend)).toThrow(/bad\.onnx: a depth model needs a float input \[1, 3, H, W\]; found x f32/);
  });
});
