/**
 * Pull-style reading over a push-style byte stream: exact-length reads, line reads and peeks
 * that work wherever the producer happened to cut its chunks. Only what a caller asks for is
 * pulled, so a reader never holds more than one frame plus one chunk.
 */
import type { ByteInput } from "./frame.ts";

export class ByteReader {
  private readonly source: AsyncIterator<Uint8Array>;
  private readonly release: () => Promise<void>;
  /** Unread chunks; the first one is consumed from `head`. */
  private chunks: Uint8Array[] = [];
  private head = 0;
  private buffered = 0;
  private ended = false;
  /** Bytes handed out so far, for error messages that name an offset. */
  position = 0;

  constructor(input: ByteInput) {
    if (input instanceof ReadableStream) {
      const reader = input.getReader();
      this.source = {
        next: async () => {
          const r = await reader.read();
          return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
        },
      };
      this.release = async () => {
        await reader.cancel().catch(() => {});
      };
    } else {
      const it = input[Symbol.asyncIterator]();
      this.source = it;
      this.release = async () => {
        await it.return?.().catch(() => {});
      };
    }
  }

  /** Pulls chunks until at least `n` bytes are buffered or the input ends. */
  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const r = await this.source.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.buffered += r.value.length;
      }
    }
  }

  /** Up to `n` upcoming bytes without consuming them (fewer only at the end of input). */
  async peek(n: number): Promise<Uint8Array> {
    await this.fill(n);
    const out = new Uint8Array(Math.min(n, this.buffered));
    this.copyOut(out, false);
    return out;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    await this.fill(1);
    return this.buffered === 0;
  }

  /**
   * Fills `dst` as far as the input allows and returns how many bytes were written:
   * `dst.length` unless the input ended first.
   */
  async readInto(dst: Uint8Array): Promise<number> {
    await this.fill(dst.length);
    return this.copyOut(dst, true);
  }

  /** The next byte, or -1 at the end of input. */
  async readByte(): Promise<number> {
    await this.fill(1);
    if (this.buffered === 0) return -1;
    const chunk = this.chunks[0]!;
    const b = chunk[this.head]!;
    this.consume(1);
    return b;
  }

  /**
   * Bytes up to (not including) the next "\n", which is consumed. Returns null at the end of
   * input; `{ line, terminated: false }` when the input ends or `maxLength` passes first.
   */
  async readLine(maxLength: number): Promise<{ line: Uint8Array; terminated: boolean } | null> {
    const parts: number[] = [];
    for (;;) {
      if (this.buffered === 0) await this.fill(1);
      if (this.buffered === 0) {
        return parts.length === 0 ? null : { line: Uint8Array.from(parts), terminated: false };
      }
      const chunk = this.chunks[0]!;
      const nl = chunk.indexOf(0x0a, this.head);
      const stop = nl < 0 ? chunk.length : nl;
      const room = maxLength - parts.length;
      const take = Math.min(stop - this.head, room);
      for (let i = 0; i < take; i++) parts.push(chunk[this.head + i]!);
      const reachedNewline = nl >= 0 && this.head + take === nl;
      this.consume(take);
      if (reachedNewline) {
        this.consume(1);
        return { line: Uint8Array.from(parts), terminated: true };
      }
      if (parts.length === maxLength) return { line: Uint8Array.from(parts), terminated: false };
    }
  }

  /** Stops the producer (cancels the stream); the reader is unusable afterwards. */
  async cancel(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    this.ended = true;
    await this.release();
  }

  private copyOut(dst: Uint8Array, consume: boolean): number {
    let written = 0;
    let head = this.head;
    for (const chunk of this.chunks) {
      if (written === dst.length) break;
      const take = Math.min(chunk.length - head, dst.length - written);
      dst.set(chunk.subarray(head, head + take), written);
      written += take;
      head = 0;
    }
    if (consume) this.consume(written);
    return written;
  }

  private consume(n: number): void {
    this.buffered -= n;
    this.position += n;
    let left = n;
    while (left > 0) {
      const chunk = this.chunks[0]!;
      const avail = chunk.length - this.head;
      if (left < avail) {
        this.head += left;
        return;
      }
      left -= avail;
      this.chunks.shift();
      this.head = 0;
    }
    if (this.chunks.length > 0 && this.head === this.chunks[0]!.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}
