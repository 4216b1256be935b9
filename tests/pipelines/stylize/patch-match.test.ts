import { describe, expect, test } from "bun:test";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { uploadImage } from "../../../pipelines/stylize/pairs.ts";
import { PATCH_MATCH_DEFAULTS, PatchMatcher, pyramidSizes } from "../../../pipelines/stylize/patch-match.ts";
import { texture } from "./textures.ts";

const cpu = new CpuBackend();
const SIZE = 96;

function pair(source: Frame, target: Frame, style: Frame = source) {
  return { sourceGuide: uploadImage(cpu, source), sourceStyle: uploadImage(cpu, style), targetGuide: uploadImage(cpu, target) };
}

describe("pyramidSizes", () => {
  test("halves down to the coarsest level FastBlend's rule allows", () => {
    // floor(log2(512 / 5)) = 6 levels
    expect(pyramidSizes(512, 512, PATCH_MATCH_DEFAULTS)).toEqual([16, 32, 64, 128, 256, 512].map((s) => ({ h: s, w: s })));
    // odd sizes floor-divide; the largest patch of the shrinking schedule (13) sets the count
    expect(pyramidSizes(97, 61, { ...PATCH_MATCH_DEFAULTS, shrinkPatch: true, iterations: 5 })).toEqual([
      { h: 48, w: 30 },
      { h: 97, w: 61 },
    ]);
  });

  test("keeps at least one level when the image is smaller than two patches", () => {
    expect(pyramidSizes(6, 40, PATCH_MATCH_DEFAULTS)).toEqual([{ h: 6, w: 40 }]);
  });
});

describe("a frame matched to a shifted copy of itself", () => {
  for (const [dy, dx] of [[3, 7], [-13, 20]] as const) {
    test(`finds the shift (${dy}, ${dx}) at ≥ 99% of the pixels whose match is inside, and votes the style across within 1/255`, () => {
      const source = texture(SIZE, SIZE);
      // target(y, x) = source(y + dy, x + dx)
      const target = texture(SIZE, SIZE, { x0: dx, y0: dy });
      const style = texture(SIZE, SIZE, { gains: [1.1, 0.8, 1.05] });
      const want = texture(SIZE, SIZE, { x0: dx, y0: dy, gains: [1.1, 0.8, 1.05] });
      using matcher = new PatchMatcher(cpu);
      const batch = pair(source, target, style);
      using result = matcher.match(batch, { keepField: true });
      const field = result.field!.read() as Int32Array;
      const voted = result.remapped.readF32();
      const r = 2;
      let inside = 0, exact = 0, votedErr = 0, votedCount = 0;
      for (let y = 0; y < SIZE; y++) {
        for (let x = 0; x < SIZE; x++) {
          const sy = y + dy, sx = x + dx;
          if (sy < r || sy >= SIZE - r || sx < r || sx >= SIZE - r) continue;
          // patches at the target's edge hold its zero border, which the true match's patch lacks
          if (y < r || y >= SIZE - r || x < r || x >= SIZE - r) continue;
          const i = y * SIZE + x;
          inside++;
          if (field[2 * i] === sy && field[2 * i + 1] === sx) exact++;
          // votes near the part of the target with no match mix in other patches: keep 2r away from it
          if (sy < 3 * r || sy >= SIZE - 3 * r || sx < 3 * r || sx >= SIZE - 3 * r) continue;
          if (y < 3 * r || y >= SIZE - 3 * r || x < 3 * r || x >= SIZE - 3 * r) continue;
          for (let c = 0; c < 3; c++) votedErr += Math.abs(voted[4 * i + c]! - want.data[3 * i + c]!);
          votedCount += 3;
        }
      }
      expect(exact / inside).toBeGreaterThanOrEqual(0.99);
      expect(votedErr / votedCount).toBeLessThan(1);
    });
  }
});

describe("the search", () => {
  test("keeps the identity where guide and style agree already, so the vote returns the style bit for bit", () => {
    const frame = texture(64, 48);
    const style = texture(64, 48, { seed: 3 });
    using matcher = new PatchMatcher(cpu);
    using result = matcher.match(pair(frame, frame, style), { keepField: true });
    const field = result.field!.read() as Int32Array;
    const identity = new Int32Array(64 * 48 * 2).map((_, k) => (k % 2 === 0 ? Math.floor(k / 2 / 64) : (k >> 1) % 64));
    expect(field).toEqual(identity);
    const voted = result.remapped.readF32();
    expect(Array.from({ length: 64 * 48 * 3 }, (_, k) => voted[4 * Math.floor(k / 3) + (k % 3)])).toEqual(Array.from(style.data));
  });

  test("lowers the energy at every iteration when the style term is constant (patch size fixed)", () => {
    const source = texture(64, 64);
    const target = texture(64, 64, { x0: 5, y0: -4 });
    const flat: Frame = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(90) };
    using matcher = new PatchMatcher(cpu, { levels: 1, iterations: 6, init: "random" });
    const energies: number[] = [];
    using _ = matcher.match(pair(source, target, flat), { onIteration: (r) => energies.push(r.energy) });
    expect(energies).toHaveLength(6);
    for (let k = 1; k < energies.length; k++) expect(energies[k]!).toBeLessThanOrEqual(energies[k - 1]!);
    expect(energies.at(-1)!).toBeLessThan(energies[0]! / 2);
  });

  test("is deterministic: a rerun gives the same field, another seed a field of about the same energy", () => {
    const source = texture(64, 64);
    const target = texture(64, 64, { x0: -6, y0: 9 });
    const batch = pair(source, target);
    const run = (seed: number) => {
      using matcher = new PatchMatcher(cpu, { seed, init: "random" });
      using result = matcher.match(batch, { keepField: true });
      return { field: result.field!.read() as Int32Array, energy: matcher.fieldEnergy(batch, result.field!) };
    };
    const a = run(1), b = run(1), c = run(2);
    expect(b.field).toEqual(a.field);
    expect(c.field).not.toEqual(a.field);
    expect(Math.abs(c.energy - a.energy) / a.energy).toBeLessThan(0.05);
  });

  test("gives the same field and votes on the system compiler and on TinyCC", () => {
    const source = texture(48, 40);
    const target = texture(48, 40, { x0: 3, y0: 2 });
    const run = (backend: CpuBackend) => {
      const batch = {
        sourceGuide: uploadImage(backend, source), sourceStyle: uploadImage(backend, source), targetGuide: uploadImage(backend, target),
      };
      using matcher = new PatchMatcher(backend, { init: "random", seed: 5 });
      using result = matcher.match(batch, { keepField: true });
      return { field: result.field!.read(), voted: result.remapped.read() };
    };
    const gcc = run(cpu), tcc = run(new CpuBackend({ tinycc: true }));
    expect(tcc.field).toEqual(gcc.field);
    expect(tcc.voted).toEqual(gcc.voted);
  });

  test("matches a batch of pairs as if each were alone", () => {
    const a = texture(40, 40), b = texture(40, 40, { x0: 4, y0: 1 }), c = texture(40, 40, { seed: 2 }), d = texture(40, 40, { seed: 2, x0: -3, y0: 5 });
    using matcher = new PatchMatcher(cpu);
    const one = (s: Frame, t: Frame) => {
      using r = matcher.match(pair(s, t));
      return Array.from(r.remapped.readF32());
    };
    const stack = (xs: Frame[]) => {
      const ts = xs.map((x) => uploadImage(cpu, x));
      const data = new Float32Array(ts.reduce((n, t) => n + t.size, 0));
      let k = 0;
      for (const t of ts) {
        data.set(t.readF32(), k);
        k += t.size;
      }
      return { data, shape: [xs.length, 40, 40, 4] };
    };
    const s = stack([a, c]), t = stack([b, d]);
    const { Tensor } = require("../../../pipelines/runtime/tensor.ts") as typeof import("../../../pipelines/runtime/tensor.ts");
    const src = Tensor.from(cpu, "f32", s.shape, s.data), tgt = Tensor.from(cpu, "f32", t.shape, t.data);
    using both = matcher.match({ sourceGuide: src, sourceStyle: src, targetGuide: tgt });
    const all = Array.from(both.remapped.readF32());
    expect(all.slice(0, 40 * 40 * 4)).toEqual(one(a, b));
    expect(all.slice(40 * 40 * 4)).toEqual(one(c, d));
  });
});
