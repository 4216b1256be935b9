/**
 * Soak: many Runs on freshly allocated inputs, tiny ones included, under forced GCs. Tiny typed
 * arrays are the ones JavaScriptCore keeps inline and moves; if Value.fromTypedArray handed ORT
 * an address that later moved, outputs would come out wrong (or names garbled), and a leak of
 * native objects would show as steady RSS growth.
 */
import { describe, expect, test } from "bun:test";
import { Session, Value } from "../../../ffi/ort/index.ts";
import { GraphBuilder } from "../../../pipelines/onnx/model-builder.ts";
import { collectGarbage } from "../../collect-garbage.ts";

const RUNS = 2_000;
const GC_EVERY = 250;

function model(): Uint8Array {
  // y = x * scale + bias, with per-run scalars so every output depends on every input.
  const g = new GraphBuilder("soak");
  const x = g.input("x", "f32", ["n"]);
  const scale = g.input("scale", "f32", [1]);
  const bias = g.input("bias", "i64", [1]);
  const biasF = g.node("Cast", [bias], { attrs: { to: 1 } });
  g.output(g.node("Add", [g.node("Mul", [x, scale]), biasF]), "f32", ["n"], "y");
  return g.toModel();
}

function fixedModel(): Uint8Array {
  // Fixed output shape: the Session preallocates this output in JS memory.
  const g = new GraphBuilder("soak-fixed");
  const x = g.input("x", "f32", [1, 8]);
  g.output(g.node("Add", [x, x]), "f32", [1, 8], "y");
  return g.toModel();
}

describe("Session under a soak of 2,000 Runs", () => {
  test("gives correct outputs for every run and does not keep growing RSS", () => {
    using session = Session.create(model(), { intraOpThreads: 1 });
    using fixed = Session.create(fixedModel(), { intraOpThreads: 1 });
    let rssAt500 = 0;
    let wrong = 0;
    for (let run = 1; run <= RUNS; run++) {
      // Sizes cycle through tiny (inline in the JS heap), small and medium (64 KiB).
      const n = [1, 3, 16, 64, 250, 1000, 16_384][run % 7] as number;
      const data = new Float32Array(n);
      const s = (run % 9) - 4;
      const b = BigInt((run % 5) - 2);
      using x = Value.fromTypedArray("f32", [n], data);
      // Fill after wrapping, on odd runs through a second view over `.buffer`, the access that
      // makes JavaScriptCore move a small array's bytes: ORT must still see these values.
      const target = run % 2 ? new Float32Array(data.buffer, data.byteOffset, n) : data;
      for (let i = 0; i < n; i++) target[i] = ((run * 31 + i * 7) % 101) - 50;
      using scale = Value.fromTypedArray("f32", [1], Float32Array.of(s));
      using bias = Value.fromTypedArray("i64", [1], BigInt64Array.of(b));
      // Garbage between wrapping and running gives the collector a chance to move things.
      for (let k = 0; k < 8; k++) new Float32Array(4).fill(k);
      using y = session.run({ x, scale, bias }).y as Value<"f32">;
      const out = y.data;
      if (out.length !== n) wrong++;
      for (let i = 0; i < n; i++) {
        if (out[i] !== (data[i] as number) * s + Number(b)) {
          wrong++;
          break;
        }
      }
      using small = Value.fromTypedArray("f32", [1, 8], Float32Array.from({ length: 8 }, (_, i) => run + i));
      using doubled = fixed.run({ x: small }).y as Value<"f32">;
      if (doubled.data.some((v, i) => v !== 2 * (run + i))) wrong++;
      if (run % GC_EVERY === 0) collectGarbage();
      if (run === 500) rssAt500 = process.memoryUsage().rss;
    }
    collectGarbage();
    const growthMiB = (process.memoryUsage().rss - rssAt500) / 2 ** 20;
    expect(wrong).toBe(0);
    expect(growthMiB).toBeLessThan(20);
  });
});
