import type { Frame } from "../../../pipelines/io/frame.ts";

/** A frame of seeded noise (an LCG: reproducible, and every byte value occurs). */
export function noiseFrame(width: number, height: number, seed: number): Frame {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { width, height, data };
}

/** A byte stream delivered in the given chunks. */
export async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
