import { describe, expect, test } from "bun:test";
import { FrameError } from "../../../pipelines/errors.ts";
import type { ByteSink, Frame } from "../../../pipelines/io/frame.ts";
import { createPpmWriter, encodePpm, openPpm, readPpm } from "../../../pipelines/io/ppm.ts";
import { noiseFrame, chunks, collect } from "./fixtures.ts";

const ascii = (s: string) => new TextEncoder().encode(s);
const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe("ppm", () => {
  describe("written by createPpmWriter and read back by readPpm", () => {
    test("returns every frame byte for byte", async () => {
      const frames = [noiseFrame(5, 3, 1), noiseFrame(5, 3, 2), noiseFrame(5, 3, 3)];
      const writes: Uint8Array[] = [];
      const sink: ByteSink = { write: (b) => void writes.push(b) };
      const w = createPpmWriter(sink, { width: 5, height: 3, fps: { num: 25, den: 1 } });
      for (const f of frames) await w.write(f);
      await w.close();
      expect(writes.length).toBe(3);
      expect(new TextDecoder().decode(writes[0]!.subarray(0, 11))).toBe("P6\n5 3\n255\n");
      expect(await collect(readPpm(chunks(concat(writes))))).toEqual(frames);
    });
  });

  describe("given hand-written headers", () => {
    test("skips comments and any whitespace between tokens", async () => {
      const body = Uint8Array.from([1, 2, 3, 4, 5, 6]);
      const text = "P6\n# made by hand\n 2\t1 # two by one\n#another\n255\n";
      const s = await openPpm(chunks(ascii(text), body));
      expect(s.meta).toEqual({ width: 2, height: 1, fps: { num: 25, den: 1 } });
      expect(await collect(s.frames)).toEqual([{ width: 2, height: 1, data: body }]);
    });

    test("reads images back to back, whitespace between them allowed, wherever chunks split", async () => {
      const a = noiseFrame(2, 2, 7);
      const b = noiseFrame(2, 2, 8);
      const stream = concat([encodePpm(a), ascii("\n"), encodePpm(b)]);
      for (let i = 0; i <= stream.length; i++) {
        expect(await collect(readPpm(chunks(stream.subarray(0, i), stream.subarray(i))))).toEqual([a, b]);
      }
    });

    test("scales maxval 65535 two-byte samples to 8 bits", async () => {
      const body = Uint8Array.from([0x00, 0x00, 0x80, 0x80, 0xff, 0xff]);
      const frames = await collect(readPpm(chunks(ascii("P6 1 1 65535\n"), body)));
      // round(v·255/65535): 0, 128, 255
      expect([...frames[0]!.data]).toEqual([0, 128, 255]);
    });

    test("scales a small maxval (15) to 0..255", async () => {
      const frames = await collect(readPpm(chunks(ascii("P6 1 1 15\n"), Uint8Array.from([0, 7, 15]))));
      expect([...frames[0]!.data]).toEqual([0, Math.round((7 * 255) / 15), 255]);
    });

    test("reads P5 grey as equal R, G and B", async () => {
      const frames = await collect(readPpm(chunks(ascii("P5\n2 1\n255\n"), Uint8Array.from([9, 200]))));
      expect([...frames[0]!.data]).toEqual([9, 9, 9, 200, 200, 200]);
    });
  });

  describe("rejects bad streams with one line", () => {
    test("names the image that was cut and how many bytes are missing", async () => {
      const a = noiseFrame(2, 2, 1);
      const stream = concat([encodePpm(a), encodePpm(a)]);
      const got: Frame[] = [];
      let error: unknown;
      try {
        for await (const f of readPpm(chunks(stream.subarray(0, stream.length - 5)))) got.push(f);
      } catch (e) {
        error = e;
      }
      expect(got).toEqual([a]);
      expect(error).toBeInstanceOf(FrameError);
      expect((error as Error).message).toBe("ppm stream truncated in image 2: 5 of its 12 bytes are missing");
    });

    test.each([
      ["", "ppm stream is empty"],
      ["P3\n1 1\n255\n", 'ppm image 1: bad magic "P3" (expected P6 for binary RGB or P5 for binary grey)'],
      ["P6\n1", "ppm stream truncated in the header of image 1: missing height"],
      ["P6\nx 1 255\n", "ppm image 1: bad width in header (expected a decimal number)"],
      ["P6 1 1 70000\n", "ppm image 1: maxval 70000 is outside 1..65535"],
      ["P6 0 1 255\n", "ppm image 1: size 0x1 is empty"],
    ])("%j", async (text, message) => {
      await expect(collect(readPpm(chunks(ascii(text))))).rejects.toThrow(new FrameError(message));
    });

    test("names an image whose size differs from the first", async () => {
      const stream = concat([encodePpm(noiseFrame(2, 2, 1)), encodePpm(noiseFrame(3, 2, 1))]);
      await expect(collect(readPpm(chunks(stream)))).rejects.toThrow(
        "ppm image 2 is 3x2 but the stream started at 2x2",
      );
    });
  });
});
