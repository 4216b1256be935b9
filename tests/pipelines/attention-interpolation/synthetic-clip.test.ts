import { describe, expect, test } from "bun:test";
import { syntheticClip, syntheticClipMeta, syntheticFrame } from "../../../pipelines/attention-interpolation/synthetic-clip.ts";

describe("the synthetic clip", () => {
  test("is deterministic, of the asked size and length", async () => {
    const frames = [];
    for await (const f of syntheticClip({ frames: 5, width: 64, height: 48 })) frames.push(f);
    expect(frames.map((f) => [f.width, f.height, f.data.length])).toEqual(Array(5).fill([64, 48, 64 * 48 * 3]));
    expect(Buffer.compare(frames[3]!.data, syntheticFrame(3, { frames: 5, width: 64, height: 48 }).data)).toBe(0);
    expect(syntheticClipMeta()).toEqual({ width: 256, height: 256, fps: { num: 8, den: 1 } });
  });

  test("moves a little between consecutive frames and a lot from first to last", () => {
    const mad = (i: number, j: number) => {
      const a = syntheticFrame(i).data, b = syntheticFrame(j).data;
      return a.reduce((s, v, k) => s + Math.abs(v - b[k]!), 0) / a.length;
    };
    expect(mad(0, 1)).toBeGreaterThan(0);
    expect(mad(0, 11)).toBeGreaterThan(3 * mad(0, 1));
  });
});
