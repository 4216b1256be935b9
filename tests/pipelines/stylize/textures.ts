/**
 * Test pictures for the matcher: seeded value noise with detail at several scales (so every
 * patch is distinct enough to match), and exact integer shifts of it. Plain loops, independent
 * of the code under test.
 */
import type { Frame } from "../../../pipelines/io/frame.ts";

function hash(x: number, y: number, salt: number): number {
  let v = (Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1) ^ Math.imul(salt + 7, 0x9e3779b1)) >>> 0;
  v = Math.imul(v ^ (v >>> 15), 0x2c1b3c6d) >>> 0;
  v = Math.imul(v ^ (v >>> 12), 0x297a2d39) >>> 0;
  return ((v ^ (v >>> 15)) >>> 0) / 2 ** 32;
}

function noise(x: number, y: number, salt: number): number {
  const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
  const sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
  const a = hash(x0, y0, salt), b = hash(x0 + 1, y0, salt), c = hash(x0, y0 + 1, salt), d = hash(x0 + 1, y0 + 1, salt);
  return (a + (b - a) * sx) * (1 - sy) + (c + (d - c) * sx) * sy;
}

/** The texture's value at pattern position (x, y), channel c, in 0..255. */
export function textureAt(x: number, y: number, c: number, seed = 0): number {
  let v = 0;
  for (const [k, f, amp] of [[0, 1 / 24, 0.5], [1, 1 / 8, 0.3], [2, 1 / 3, 0.2]] as const) v += amp * noise(x * f, y * f, seed * 16 + c * 3 + k);
  return Math.max(0, Math.min(255, Math.round(255 * v)));
}

/** A `width × height` window onto the texture whose top-left is pattern position (x0, y0), channel gains applied. */
export function texture(width: number, height: number, o: { x0?: number; y0?: number; seed?: number; gains?: readonly number[] } = {}): Frame {
  const { x0 = 0, y0 = 0, seed = 0, gains = [1, 1, 1] } = o;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = Math.min(255, Math.round(textureAt(x + x0, y + y0, c, seed) * gains[c]!));
    }
  }
  return { width, height, data };
}
