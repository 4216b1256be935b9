import { describe, expect, test } from "bun:test";
import { ByteReader } from "../../../pipelines/io/byte-reader.ts";

const ascii = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield ascii(p);
}

describe("ByteReader", () => {
  test("reads lines split across chunks, then exact byte counts, then reports the end", async () => {
    const r = new ByteReader(chunks("he", "llo\nwor", "", "ld\n", "abc", "def"));
    expect(text((await r.readLine(100))!.line)).toBe("hello");
    expect(await r.readLine(100)).toEqual({ line: ascii("world"), terminated: true });
    const buf = new Uint8Array(4);
    expect(await r.readInto(buf)).toBe(4);
    expect(text(buf)).toBe("abcd");
    expect(await r.readInto(buf)).toBe(2);
    expect(text(buf.subarray(0, 2))).toBe("ef");
    expect(await r.atEnd()).toBe(true);
    expect(await r.readLine(100)).toBeNull();
    expect(r.position).toBe(18);
  });

  test("stops a line at maxLength, unterminated, leaving the rest unread", async () => {
    const r = new ByteReader(chunks("abcdef\n"));
    expect(await r.readLine(4)).toEqual({ line: ascii("abcd"), terminated: false });
    expect(await r.readLine(4)).toEqual({ line: ascii("ef"), terminated: true });
  });

  test("returns an unterminated last line at the end of input", async () => {
    const r = new ByteReader(chunks("no newline"));
    expect(await r.readLine(100)).toEqual({ line: ascii("no newline"), terminated: false });
  });

  test("peeks without consuming, pulling only what it needs", async () => {
    let pulled = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for (const p of ["YU", "V4", "MPEG2 ", "W1"]) {
        pulled++;
        yield ascii(p);
      }
    }
    const r = new ByteReader(counted());
    expect(text(await r.peek(3))).toBe("YUV");
    expect(pulled).toBe(2);
    expect(await r.readByte()).toBe("Y".charCodeAt(0));
    expect(text((await r.readLine(100))!.line)).toBe("UV4MPEG2 W1");
  });

  test("cancel stops the underlying ReadableStream", async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(ascii("x"));
      },
      cancel() {
        cancelled = true;
      },
    });
    const r = new ByteReader(stream);
    expect(await r.readByte()).toBe(120);
    await r.cancel();
    expect(cancelled).toBe(true);
  });
});
