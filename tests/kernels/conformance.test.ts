/**
 * Every declared kernel on every available backend against its plain-TS reference: seeded
 * inputs, NMSE within tolerance, no unexpected NaN, matching Infs, guard elements and read-only
 * inputs untouched. A declared kernel without a case fails the run.
 */
import { describe, expect, test } from "bun:test";
import { blend } from "../../kernels/blend.ts";
import { edges } from "../../kernels/edges.ts";
import { image } from "../../kernels/image.ts";
import { mask } from "../../kernels/mask.ts";
import { patchmatch } from "../../kernels/patchmatch.ts";
import { tone } from "../../kernels/tone.ts";
import type { DType, KernelFamily } from "../../kernels/signature.ts";
import type { Backend } from "../../pipelines/runtime/backend.ts";
import { CpuBackend } from "../../pipelines/runtime/cpu-backend.ts";
import { launch } from "../../pipelines/runtime/launcher.ts";
import { Tensor, type HostArray } from "../../pipelines/runtime/tensor.ts";
import { blendCases } from "./ref/blend.ts";
import { edgesCases } from "./ref/edges.ts";
import { imageCases } from "./ref/image.ts";
import { maskCases } from "./ref/mask.ts";
import { patchmatchCases } from "./ref/patchmatch.ts";
import { toneCases } from "./ref/tone.ts";
import { TestRng, type KernelCase } from "./ref/case.ts";
import { cudaBackendsForTests } from "./cuda-backends.ts";

const families: [KernelFamily, KernelCase[]][] = [
  [blend, blendCases],
  [image, imageCases],
  [mask, maskCases],
  [edges, edgesCases],
  [patchmatch, patchmatchCases],
  [tone, toneCases],
];

const backends: [string, () => Backend][] = [
  ["cpu", () => new CpuBackend()],
  ["cpu-tinycc", () => new CpuBackend({ tinycc: true })],
  ...cudaBackendsForTests(),
];

const GUARD = 16;
const SENTINEL = -12345.5;

function quantize(dtype: DType, v: number): number {
  return dtype === "f16" ? Math.f16round(v) : dtype === "f32" ? Math.fround(v) : v;
}

function encode(dtype: DType, values: ArrayLike<number>): HostArray {
  if (dtype === "f16") return new Uint16Array(Float16Array.from(values as ArrayLike<number>).buffer);
  if (dtype === "f32") return Float32Array.from(values as ArrayLike<number>);
  if (dtype === "u8") return Uint8Array.from(values as ArrayLike<number>);
  if (dtype === "i32") return Int32Array.from(values as ArrayLike<number>);
  throw new Error(`no test encoding for ${dtype}`);
}

function decode(dtype: DType, data: HostArray): Float64Array {
  if (dtype === "f16") return Float64Array.from(new Float16Array((data as Uint16Array).buffer, data.byteOffset, data.length));
  return Float64Array.from(data as Float32Array | Uint8Array);
}

/** A tensor of `n` elements inside a larger one whose GUARD elements on each side hold SENTINEL. */
function guarded(backend: Backend, dtype: DType, values: ArrayLike<number>) {
  const n = values.length;
  const all = new Float64Array(n + 2 * GUARD).fill(SENTINEL);
  all.set(Array.from(values), GUARD);
  const backing = Tensor.from(backend, dtype, [n + 2 * GUARD], encode(dtype, all));
  return { backing, view: backing.slice(GUARD, GUARD + n), before: backing.read() };
}

function nmse(got: Float64Array, want: Float64Array): number {
  let err = 0, ref = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(want[i]!)) continue;
    err += (got[i]! - want[i]!) ** 2;
    ref += want[i]! ** 2;
  }
  return ref === 0 ? err : err / ref;
}

function runCase(backend: Backend, family: KernelFamily, c: KernelCase) {
  const sig = family.kernels[c.kernel]!;
  const raw = c.inputs(new TestRng(0x5eed));
  const inputs: Record<string, Float64Array> = {};
  const tensors: Record<string, ReturnType<typeof guarded>> = {};
  for (const arg of sig.args) {
    if (arg.kind !== "buffer") continue;
    // written buffers start as the case's input when it gives one (in-place kernels), else all 7s
    const values = arg.writes ? (raw[arg.name] ?? new Float64Array(c.outputs[arg.name]!).fill(7)) : raw[arg.name]!;
    inputs[arg.name] = values.map((v) => quantize(arg.dtype, v));
    tensors[arg.name] = guarded(backend, arg.dtype, inputs[arg.name]!);
  }
  launch(family, c.kernel, { ...Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.view])), ...c.scalars });
  const want = c.reference(inputs);

  for (const arg of sig.args) {
    if (arg.kind !== "buffer") continue;
    const { backing, before } = tensors[arg.name]!;
    const after = backing.read();
    const whole = decode(arg.dtype, after);
    // guards (and whole read-only buffers) must be byte-identical
    const untouched = arg.writes ? [...Array(GUARD).keys(), ...Array.from({ length: GUARD }, (_, i) => whole.length - 1 - i)] : [...whole.keys()];
    for (const i of untouched) {
      if (after[i] !== before[i]) throw new Error(`${arg.name}[${i - GUARD}] changed (guard or read-only)`);
    }
    if (!arg.writes) continue;
    const got = whole.subarray(GUARD, whole.length - GUARD);
    const expected = want[arg.name]!.map((v) => quantize(arg.dtype, v));
    for (let i = 0; i < got.length; i++) {
      if (Number.isNaN(got[i]!) !== Number.isNaN(expected[i]!)) throw new Error(`${arg.name}[${i}] NaN mismatch: ${got[i]} vs ${expected[i]}`);
      if (!Number.isFinite(expected[i]!) && got[i] !== expected[i]) throw new Error(`${arg.name}[${i}] Inf mismatch: ${got[i]} vs ${expected[i]}`);
    }
    if (c.exact) {
      expect(Array.from(got)).toEqual(Array.from(expected));
    } else {
      expect(nmse(got, expected)).toBeLessThanOrEqual(c.nmse ?? (arg.dtype === "f16" ? 1e-5 : 1e-7));
    }
  }
  for (const t of Object.values(tensors)) t.backing.dispose();
}

const caseName = (c: KernelCase) =>
  `${c.kernel}(${Object.entries(c.params).map(([k, v]) => `${k}=${v}`).join(",")})`;

for (const [family, cases] of families) {
  describe(`kernels/${family.name}.cu`, () => {
    test("has a conformance case for every declared kernel", () => {
      const covered = new Set(cases.map((c) => c.kernel));
      expect(Object.keys(family.kernels).filter((k) => !covered.has(k))).toEqual([]);
    });
    for (const [name, make] of backends) {
      describe(`@${name}`, () => {
        let backend: Backend | undefined;
        for (const c of cases) {
          test(`${caseName(c)} matches the TypeScript reference`, () => {
            backend ??= make();
            runCase(backend, family, c);
          });
        }
      });
    }
  });
}
