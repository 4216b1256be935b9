/** Seeded mutations of a byte string: bit flips, byte overwrites, truncation, splices, and number edits in text headers. */
import { Rng } from "../../pipelines/sd/random.ts";

const INTERESTING = ["0", "-1", "1", "65536", "99999999999", "nan", "1e309", "", "x", "8", "7"];

export function mutate(seed: Uint8Array, rng: Rng): Uint8Array {
  const bytes = Uint8Array.from(seed);
  const pick = (n: number) => Math.floor(rng.uniform() * n);
  const rounds = 1 + pick(4);
  let out: Uint8Array = bytes;
  for (let r = 0; r < rounds; r++) {
    switch (pick(6)) {
      case 0: // flip one bit
        if (out.length) out[pick(out.length)]! ^= 1 << pick(8);
        break;
      case 1: // overwrite a byte with an edge value
        if (out.length) out[pick(out.length)] = [0, 255, 10, 32, 0x7f, 0x80][pick(6)]!;
        break;
      case 2: // truncate
        out = out.subarray(0, pick(out.length + 1));
        break;
      case 3: {
        // duplicate or drop a slice
        const a = pick(out.length + 1);
        const b = Math.min(out.length, a + pick(16));
        out = pick(2) ? concat(out.subarray(0, a), out.subarray(a, b), out.subarray(a)) : concat(out.subarray(0, a), out.subarray(b));
        break;
      }
      case 4: {
        // replace a run of digits (a width, a length, a count) with an interesting number
        const text = new TextDecoder("latin1").decode(out);
        const runs = [...text.matchAll(/\d+/g)];
        if (runs.length === 0) break;
        const m = runs[pick(runs.length)]!;
        const value = new TextEncoder().encode(INTERESTING[pick(INTERESTING.length)]!);
        out = concat(out.subarray(0, m.index), value, out.subarray(m.index! + m[0].length));
        break;
      }
      default: // insert random bytes
        out = concat(out.subarray(0, pick(out.length + 1)), Uint8Array.from({ length: 1 + pick(8) }, () => pick(256)), out.subarray(pick(out.length + 1)));
    }
  }
  return out;
}

const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
