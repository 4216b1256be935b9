/**
 * CPU kernel throughput on 64 MiB f32 latents vs TypedArray copy bandwidth on the same sizes.
 * Bandwidth counts bytes read + written: copy moves 2 × 64 MiB, lerp 3 × 64 MiB, slerp (one row:
 * a reduction pass over a and b, then a combine pass) 5 × 64 MiB. Target: lerp ≥ 0.5 of copy.
 */
import { CpuBackend } from "../pipelines/runtime/cpu-backend.ts";
import { lerp, slerp } from "../pipelines/runtime/blend-ops.ts";
import { Tensor } from "../pipelines/runtime/tensor.ts";
import { machine, medianMs, printTable, report } from "./report.ts";

const bytes = 64 * 2 ** 20;
const n = bytes / 4;
const cpu = new CpuBackend();
const a = Tensor.empty(cpu, "f32", [n]);
const b = Tensor.empty(cpu, "f32", [n]);
const out = Tensor.empty(cpu, "f32", [n]);
const av = a.hostView() as Float32Array;
const bv = b.hostView() as Float32Array;
for (let i = 0; i < n; i++) {
  av[i] = Math.sin(i);
  bv[i] = Math.cos(i);
}
const dst = new Float32Array(n);

const gbps = (moved: number, ms: number) => moved / (ms / 1e3) / 1e9;
const copy = gbps(2 * bytes, medianMs(() => dst.set(av)));
report({ bench: "kernels", metric: "copy_typedarray_set_64MiB", value: copy, unit: "GB/s" });

const lerpBw = gbps(3 * bytes, medianMs(() => lerp(a, b, 0.3, out)));
report({ bench: "kernels", metric: "lerp_f32_64MiB", value: lerpBw, unit: "GB/s", vs: "TypedArray.set copy", ratio: lerpBw / copy });

const slerpWhole = gbps(5 * bytes, medianMs(() => slerp(a, b, 0.3, { out })));
report({ bench: "kernels", metric: "slerp_f32_64MiB_one_row", value: slerpWhole, unit: "GB/s", vs: "TypedArray.set copy", ratio: slerpWhole / copy });

const slerpRows = gbps(5 * bytes, medianMs(() => slerp(a, b, 0.3, { out, rowLength: 4096 })));
report({ bench: "kernels", metric: "slerp_rows_f32_64MiB_4096_cols", value: slerpRows, unit: "GB/s", vs: "TypedArray.set copy", ratio: slerpRows / copy });

printTable(`CPU kernels (${cpu.description}; ${machine()})`);
