import { describe, expect, test } from "bun:test";
import { FrameError } from "../../../pipelines/errors.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { openY4m, readY4m } from "../../../pipelines/io/y4m-reader.ts";
import { yuvToRgb } from "../../../pipelines/io/yuv-rgb.ts";
import { chunks, collect } from "./fixtures.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// 3x2 at 4:2:0: 6 luma bytes, then 2x1 Cb and 2x1 Cr; 10 bytes a frame.
const planes1 = Uint8Array.from([16, 60, 120, 180, 235, 90, 100, 160, 200, 90]);
const planes2 = Uint8Array.from([30, 30, 30, 200, 200, 200, 128, 128, 60, 240]);
const small = concat([
  ascii("YUV4MPEG2 W3 H2 F30000:1001 It A10:11 C420mpeg2 XYSCSS=420MPEG2\n"),
  ascii("FRAME\n"),
  planes1,
  ascii("FRAME Ixyz Xanything\n"),
  planes2,
]);

function expectedFrame(planes: Uint8Array): Frame {
  const data = new Uint8Array(18);
  yuvToRgb(planes, 3, 2, "420", { siting: "left" }, data);
  return { width: 3, height: 2, data };
}

describe("readY4m", () => {
  describe("given a small two-frame 4:2:0 stream", () => {
    test("exposes the header and metadata", async () => {
      const s = await openY4m(chunks(small));
      expect(s.meta).toEqual({ width: 3, height: 2, fps: { num: 30000, den: 1001 }, aspect: { num: 10, den: 11 } });
      expect(s.header).toMatchObject({ interlace: "t", colourspace: "420mpeg2", extensions: ["YSCSS=420MPEG2"] });
    });

    test("yields both frames, FRAME parameters ignored, converted with the siting the C tag implies", async () => {
      expect(await collect(readY4m(chunks(small)))).toEqual([expectedFrame(planes1), expectedFrame(planes2)]);
    });

    test("gives the same frames wherever two chunk boundaries fall", async () => {
      const want = [expectedFrame(planes1), expectedFrame(planes2)];
      let cases = 0;
      for (let i = 0; i <= small.length; i++) {
        for (let j = i; j <= small.length; j++) {
          const got = await collect(readY4m(chunks(small.subarray(0, i), small.subarray(i, j), small.subarray(j))));
          expect(got).toEqual(want);
          cases++;
        }
      }
      expect(cases).toBe(((small.length + 1) * (small.length + 2)) / 2);
    });

    test("gives the same frames when fed one byte at a time from a ReadableStream", async () => {
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (const b of small) c.enqueue(Uint8Array.of(b));
          c.close();
        },
      });
      expect(await collect(readY4m(stream))).toEqual([expectedFrame(planes1), expectedFrame(planes2)]);
    });

    test("hands the header to onHeader before the first frame", async () => {
      const seen: string[] = [];
      for await (const _ of readY4m(chunks(small), { onHeader: (h) => seen.push(`header ${h.width}x${h.height}`) })) {
        seen.push("frame");
      }
      expect(seen).toEqual(["header 3x2", "frame", "frame"]);
    });
  });

  test("yields a frame as soon as its bytes arrive, before the input ends", async () => {
    let push!: (b: Uint8Array) => void;
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        push = (b) => c.enqueue(b);
      },
    });
    const headerEnd = small.indexOf(0x0a) + 1;
    push(small.subarray(0, headerEnd + 6 + 10));
    const s = await openY4m(stream);
    const first = await s.frames.next();
    expect(first.value).toEqual(expectedFrame(planes1));
    await s.frames.return();
  });

  describe("given a stream cut short", () => {
    const cut = small.subarray(0, small.length - 4);

    test("yields the complete frames, then says which frame lost how many bytes", async () => {
      const got: Frame[] = [];
      let error: unknown;
      try {
        for await (const f of readY4m(chunks(cut))) got.push(f);
      } catch (e) {
        error = e;
      }
      expect(got).toEqual([expectedFrame(planes1)]);
      expect(error).toBeInstanceOf(FrameError);
      expect((error as Error).message).toBe("y4m stream truncated in frame 2: 4 of its 10 bytes are missing");
    });

    test("inside a FRAME line, says the pixels are missing", async () => {
      const s = concat([small.subarray(0, small.indexOf(0x0a) + 1), ascii("FRA")]);
      await expect(collect(readY4m(chunks(s)))).rejects.toThrow(/^y4m stream truncated in frame 1: the FRAME line has no end of line/);
    });

    test("on input that is not y4m and has no newline, names the bad signature", async () => {
      await expect(openY4m(chunks(new Uint8Array(5000).fill(0x41)))).rejects.toThrow(
        'y4m header: stream does not start with "YUV4MPEG2 " (got "AAAAAAAAAAAAAAAA")',
      );
    });

    test("inside the header, says so", async () => {
      await expect(collect(readY4m(chunks(ascii("YUV4MPEG2 W3 H2"))))).rejects.toThrow("y4m header: stream ends inside the header line");
    });
  });

  test("rejects garbage where a FRAME line belongs, naming the frame", async () => {
    const s = concat([small.subarray(0, small.indexOf(0x0a) + 1), ascii("FRAMEX\n")]);
    await expect(collect(readY4m(chunks(s)))).rejects.toThrow(/^y4m frame 1: expected a "FRAME" line at byte 64, got "FRAMEX"$/);
  });

  describe("rejects a bad header with one line naming the problem", () => {
    test.each([
      ["", "y4m header: stream is empty"],
      ["P6 3 2 255\n", 'y4m header: stream does not start with "YUV4MPEG2 " (got "P6 3 2 255")'],
      ["YUV4MPEG2 H2 F25:1\n", "y4m header: missing width (W)"],
      ["YUV4MPEG2 W3 F25:1\n", "y4m header: missing height (H)"],
      ["YUV4MPEG2 W0 H2\n", 'y4m header: bad width "W0" (expected a positive integer)'],
      ["YUV4MPEG2 W3 H2 F25\n", 'y4m header: bad frame rate "F25" (expected F<num>:<den>, e.g. F30000:1001)'],
      ["YUV4MPEG2 W3 H2 Ax\n", 'y4m header: bad pixel aspect "Ax" (expected A<num>:<den>, e.g. A1:1)'],
      ["YUV4MPEG2 W3 H2 Iq\n", 'y4m header: bad interlacing "Iq" (expected one of Ip, It, Ib, Im, I?)'],
      ["YUV4MPEG2 W3 H2 Q7\n", 'y4m header: unknown tag "Q7" (valid tags: W H F I A C X)'],
      [
        "YUV4MPEG2 W3 H2 C420p10\n",
        'y4m header: unsupported colour space "C420p10" (supported: C420jpeg, C420paldv, C420mpeg2, C420, C422, C444, C444alpha, Cmono)',
      ],
    ])("%j", async (header, message) => {
      let error: unknown;
      try {
        await openY4m(chunks(ascii(header)));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FrameError);
      expect((error as Error).message).toBe(message);
    });
  });

  describe("given a header without F, A or C", () => {
    test("assumes 25 fps, unknown aspect and 4:2:0", async () => {
      const s = await openY4m(chunks(ascii("YUV4MPEG2 W2 H2\nFRAME\n"), new Uint8Array(6).fill(128)));
      expect(s.meta).toEqual({ width: 2, height: 2, fps: { num: 25, den: 1 } });
      expect(s.header.colourspace).toBe("420jpeg");
      expect((await collect(s.frames)).length).toBe(1);
    });
  });

  test("reads 444alpha by skipping the alpha plane", async () => {
    const body = Uint8Array.from([235, 16, 128, 128, 128, 128, 7, 7]);
    const frames = await collect(readY4m(chunks(ascii("YUV4MPEG2 W2 H1 C444alpha\nFRAME\n"), body)));
    expect(frames).toEqual([{ width: 2, height: 1, data: Uint8Array.from([255, 255, 255, 0, 0, 0]) }]);
  });
});
