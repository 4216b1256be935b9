import { describe, expect, test } from "bun:test";
import { FrameError } from "../../../pipelines/errors.ts";
import type { ByteSink, Frame, StreamMeta } from "../../../pipelines/io/frame.ts";
import { openY4m } from "../../../pipelines/io/y4m-reader.ts";
import { createY4mWriter, type Y4mWriteOptions } from "../../../pipelines/io/y4m-writer.ts";

/** Gradients of at most ~1.5 levels a pixel inside the gamut: "smooth content" for the bound below. */
function smoothFrame(width: number, height: number, phase: number): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = 3 * (y * width + x);
      data[p] = Math.round(70 + 1.4 * x + 10 * Math.sin(phase + y / 30));
      data[p + 1] = Math.round(80 + 1.25 * y + 15 * Math.cos(phase + x / 40));
      data[p + 2] = Math.round(120 + 40 * Math.sin(phase + (x + y) / 50));
    }
  }
  return { width, height, data };
}

function memorySink(): ByteSink & { writes: Uint8Array[]; closed: boolean; bytes(): Uint8Array } {
  const writes: Uint8Array[] = [];
  return {
    writes,
    closed: false,
    write(b) {
      writes.push(b.slice());
    },
    close() {
      this.closed = true;
    },
    bytes() {
      return new Uint8Array(Buffer.concat(writes));
    },
  };
}

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

/**
 * The round-trip bound. 8-bit Y'CbCr cannot hold every RGB triple: quantising Y and C to whole
 * codes moves R, G or B by up to ~1.9 before the final rounding (0.5·255/219 + 0.5·1.402·255/224
 * at limited range), so a few samples in a thousand come back 2 off even at 4:4:4 (the RGB-cube
 * sweep in yuv-rgb.test.ts shows the same). "Within 1 level" therefore means: no sample off by
 * more than 2, at least 99% within 1, and a mean error under half a level.
 */
function expectWithinOneLevel(got: Uint8Array, want: Uint8Array): void {
  let max = 0;
  let over1 = 0;
  let sum = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    max = Math.max(max, d);
    sum += d;
    if (d > 1) over1++;
  }
  expect(got.length).toBe(want.length);
  expect(max).toBeLessThanOrEqual(2);
  expect(over1 / want.length).toBeLessThanOrEqual(0.01);
  expect(sum / want.length).toBeLessThan(0.5);
}

const meta: StreamMeta = { width: 64, height: 48, fps: { num: 30000, den: 1001 }, aspect: { num: 4, den: 3 } };

describe("createY4mWriter", () => {
  test("writes the exact header tags for the stream's size, rate and aspect", async () => {
    const sink = memorySink();
    const w = createY4mWriter(sink, meta);
    await w.close();
    expect(new TextDecoder().decode(sink.bytes())).toBe("YUV4MPEG2 W64 H48 F30000:1001 Ip A4:3 C420jpeg\n");
    expect(sink.closed).toBe(true);
  });

  test("marks full range with XCOLORRANGE=FULL and 4:4:4 with C444", async () => {
    const sink = memorySink();
    await createY4mWriter(sink, { ...meta, aspect: undefined }, { chroma: "444", range: "full" }).close();
    expect(new TextDecoder().decode(sink.bytes())).toBe("YUV4MPEG2 W64 H48 F30000:1001 Ip A0:0 C444 XCOLORRANGE=FULL\n");
  });

  test("sends the header once and each frame in its own write, as soon as it is written", async () => {
    const sink = memorySink();
    const w = createY4mWriter(sink, meta);
    await w.write(smoothFrame(64, 48, 0));
    const header = "YUV4MPEG2 W64 H48 F30000:1001 Ip A4:3 C420jpeg\n";
    expect(sink.writes.map((b) => b.length)).toEqual([header.length, 6 + 64 * 48 + 2 * 32 * 24]);
    await w.write(smoothFrame(64, 48, 1));
    expect(sink.writes.length).toBe(3);
    expect(new TextDecoder().decode(sink.writes[2]!.subarray(0, 6))).toBe("FRAME\n");
  });

  test("does not resolve a write before the sink's write does", async () => {
    const gates: (() => void)[] = [];
    const sink: ByteSink = { write: () => new Promise<void>((resolve) => gates.push(resolve)) };
    const settle = async () => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
    };
    let done = false;
    const pending = createY4mWriter(sink, meta)
      .write(smoothFrame(64, 48, 0))
      .then(() => {
        done = true;
      });
    await settle();
    expect(gates.length).toBe(1); // the header is in flight; the frame waits for it
    gates[0]!();
    await settle();
    expect([gates.length, done]).toEqual([2, false]);
    gates[1]!();
    await pending;
    expect(done).toBe(true);
  });

  test("rejects a frame of the wrong size", async () => {
    const w = createY4mWriter(memorySink(), meta);
    await expect(w.write(smoothFrame(32, 48, 0))).rejects.toThrow(
      new FrameError("y4m writer: frame is 32x48 but the stream is 64x48"),
    );
  });

  describe("then openY4m, on smooth content", () => {
    async function roundTrip(m: StreamMeta, opts: Y4mWriteOptions, frames: Frame[]) {
      const sink = memorySink();
      const w = createY4mWriter(sink, m, opts);
      for (const f of frames) await w.write(f);
      await w.close();
      const s = await openY4m(once(sink.bytes()));
      const back: Frame[] = [];
      for await (const f of s.frames) back.push(f);
      return { meta: s.meta, header: s.header, back };
    }

    for (const chroma of ["420", "444"] as const) {
      test(`at ${chroma} returns every frame within 1 level, with fps and aspect intact`, async () => {
        const frames = [0, 1, 2].map((i) => smoothFrame(64, 48, i));
        const r = await roundTrip(meta, { chroma }, frames);
        expect(r.meta).toEqual(meta);
        expect(r.back.length).toBe(3);
        for (let i = 0; i < 3; i++) expectWithinOneLevel(r.back[i]!.data, frames[i]!.data);
      });
    }

    test("at 420 with odd sizes (33x17) stays within 1 level", async () => {
      const f = smoothFrame(33, 17, 0.5);
      const r = await roundTrip({ width: 33, height: 17, fps: { num: 24, den: 1 } }, {}, [f]);
      expectWithinOneLevel(r.back[0]!.data, f.data);
    });

    test("at full range BT.709 stays within 1 level and the reader picks the range from the header", async () => {
      const f = smoothFrame(64, 48, 2);
      const sink = memorySink();
      const w = createY4mWriter(sink, meta, { range: "full", matrix: "bt709" });
      await w.write(f);
      await w.close();
      const s = await openY4m(once(sink.bytes()), { matrix: "bt709" });
      expect(s.header.range).toBe("full");
      const back = (await s.frames.next()).value as Frame;
      expectWithinOneLevel(back.data, f.data);
    });

    test("in mono keeps grey levels within 1", async () => {
      const grey: Frame = { width: 4, height: 1, data: Uint8Array.from([0, 0, 0, 77, 77, 77, 200, 200, 200, 255, 255, 255]) };
      const r = await roundTrip({ width: 4, height: 1, fps: { num: 1, den: 1 } }, { chroma: "mono" }, [grey]);
      expect(r.header.colourspace).toBe("mono");
      expectWithinOneLevel(r.back[0]!.data, grey.data);
    });
  });
});
