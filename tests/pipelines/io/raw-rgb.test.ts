import { describe, expect, test } from "bun:test";
import { FrameError } from "../../../pipelines/errors.ts";
import type { ByteSink, Frame } from "../../../pipelines/io/frame.ts";
import { createRawRgbWriter, readRawRgb } from "../../../pipelines/io/raw-rgb.ts";
import { chunks } from "./fixtures.ts";

const bytes = Uint8Array.from({ length: 24 }, (_, i) => i * 10);

describe("raw rgb24", () => {
  test("cuts the input into frames of the given size, across chunk boundaries", async () => {
    const got: Frame[] = [];
    for await (const f of readRawRgb(chunks(bytes.subarray(0, 5), bytes.subarray(5, 19), bytes.subarray(19)), { width: 2, height: 2 })) {
      got.push(f);
    }
    expect(got).toEqual([
      { width: 2, height: 2, data: bytes.slice(0, 12) },
      { width: 2, height: 2, data: bytes.slice(12) },
    ]);
  });

  test("keeps the whole frames of a cut stream, then names the cut frame and the missing bytes", async () => {
    const got: Frame[] = [];
    let error: unknown;
    try {
      for await (const f of readRawRgb(chunks(bytes.subarray(0, 20)), { width: 2, height: 2 })) got.push(f);
    } catch (e) {
      error = e;
    }
    expect(got.length).toBe(1);
    expect(error).toBeInstanceOf(FrameError);
    expect((error as Error).message).toBe(
      "raw rgb24 stream truncated in frame 2: 4 of its 12 bytes are missing (is --size 2x2 right?)",
    );
  });

  test("writes each frame's bytes as they are, one write a frame", async () => {
    const writes: Uint8Array[] = [];
    const sink: ByteSink = { write: (b) => void writes.push(b) };
    const w = createRawRgbWriter(sink, { width: 2, height: 2, fps: { num: 25, den: 1 } });
    await w.write({ width: 2, height: 2, data: bytes.slice(0, 12) });
    await w.write({ width: 2, height: 2, data: bytes.slice(12) });
    expect(writes).toEqual([bytes.slice(0, 12), bytes.slice(12)]);
  });
});
