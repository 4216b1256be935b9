import { blend } from "../../kernels/blend.ts";
import { launch } from "./launcher.ts";
import { Tensor } from "./tensor.ts";

/**
 * Blending and scheduler arithmetic on tensors, through kernels/blend.cu. Each function writes
 * into `out` when given (it may be one of the inputs) and otherwise returns a new tensor.
 * Ops blend.cu has only for f32 (axpbypcz, scale, add, clamp, fill) run on f16 tensors through
 * f32 copies when the backend says it has no f16 kernel for them: the same float arithmetic the
 * f16 kernels do, rounded to f16 once at the end.
 */

type Float = "f32" | "f16";

function floatDtype(op: string, ...ts: Tensor[]): Float {
  const dtype = ts[0]!.dtype;
  if (dtype !== "f32" && dtype !== "f16") throw new TypeError(`${op} needs f32 or f16 tensors, got ${dtype}`);
  for (const t of ts) {
    if (t.dtype !== dtype) throw new TypeError(`${op} needs tensors of one dtype, got ${dtype} and ${t.dtype}`);
    if (t.size !== ts[0]!.size) {
      throw new RangeError(`${op} needs tensors of one size, got [${ts[0]!.shape}] and [${t.shape}]`);
    }
  }
  return dtype;
}

const target = (out: Tensor | undefined, like: Tensor) => out ?? Tensor.empty(like.backend, like.dtype, like.shape);

/** Whether `op` must go through f32 on these tensors' backend. */
const needsF32 = (op: string, dtype: Float, like: Tensor) => dtype !== "f32" && !like.backend.supports(blend, op, dtype);

/** `run` on f32 copies of `inputs`, its result narrowed to `dtype` into `out` (which may alias an input). */
function viaF32(inputs: readonly Tensor[], dtype: Float, out: Tensor | undefined, run: (wide: Tensor[]) => Tensor): Tensor {
  const wide = inputs.map((t) => cast(t, "f32"));
  try {
    using result = run(wide);
    return cast(result, dtype, out);
  } finally {
    for (const t of wide) t.dispose();
  }
}

/** a + t·(b − a). */
export function lerp(a: Tensor, b: Tensor, t: number, out?: Tensor): Tensor {
  const dtype = floatDtype("lerp", a, b, ...(out ? [out] : []));
  const o = target(out, a);
  launch(blend, `lerp_${dtype}`, { out: o, a, b, t, n: a.size });
  return o;
}

/** a + w·(b − a) with a weight per element. */
export function lerpWeighted(a: Tensor, b: Tensor, w: Tensor, out?: Tensor): Tensor {
  const dtype = floatDtype("lerpWeighted", a, b, w, ...(out ? [out] : []));
  const o = target(out, a);
  launch(blend, `lerp_weighted_${dtype}`, { out: o, a, b, w, n: a.size });
  return o;
}

/** α·x + β·y. */
export function axpby(alpha: number, x: Tensor, beta: number, y: Tensor, out?: Tensor): Tensor {
  const dtype = floatDtype("axpby", x, y, ...(out ? [out] : []));
  const o = target(out, x);
  launch(blend, `axpby_${dtype}`, { out: o, alpha, x, beta, y, n: x.size });
  return o;
}

/** α·x + β·y + γ·z. */
export function axpbypcz(alpha: number, x: Tensor, beta: number, y: Tensor, gamma: number, z: Tensor, out?: Tensor): Tensor {
  const dtype = floatDtype("axpbypcz", x, y, z, ...(out ? [out] : []));
  if (needsF32("axpbypcz", dtype, x)) return viaF32([x, y, z], dtype, out, ([x, y, z]) => axpbypcz(alpha, x!, beta, y!, gamma, z!));
  const o = target(out, x);
  launch(blend, "axpbypcz_f32", { out: o, alpha, x, beta, y, gamma, z, n: x.size });
  return o;
}

/** α·x. */
export function scale(x: Tensor, alpha: number, out?: Tensor): Tensor {
  const dtype = floatDtype("scale", x, ...(out ? [out] : []));
  if (needsF32("scale", dtype, x)) return viaF32([x], dtype, out, ([x]) => scale(x!, alpha));
  const o = target(out, x);
  launch(blend, "scale_f32", { out: o, x, alpha, n: x.size });
  return o;
}

/** x + y. */
export function add(x: Tensor, y: Tensor, out?: Tensor): Tensor {
  const dtype = floatDtype("add", x, y, ...(out ? [out] : []));
  if (needsF32("add", dtype, x)) return viaF32([x, y], dtype, out, ([x, y]) => add(x!, y!));
  const o = target(out, x);
  launch(blend, "add_f32", { out: o, x, y, n: x.size });
  return o;
}

/** min(hi, max(lo, x)). */
export function clamp(x: Tensor, lo: number, hi: number, out?: Tensor): Tensor {
  const dtype = floatDtype("clamp", x, ...(out ? [out] : []));
  if (needsF32("clamp", dtype, x)) return viaF32([x], dtype, out, ([x]) => clamp(x!, lo, hi));
  const o = target(out, x);
  launch(blend, "clamp_f32", { out: o, x, lo, hi, n: x.size });
  return o;
}

/** Sets every element (to `value` rounded to the tensor's dtype). */
export function fill(out: Tensor, value: number): Tensor {
  const dtype = floatDtype("fill", out);
  if (needsF32("fill", dtype, out)) return viaF32([], dtype, out, () => fill(Tensor.empty(out.backend, "f32", out.shape), value));
  launch(blend, "fill_f32", { out, value, n: out.size });
  return out;
}

/** A converted copy in another float dtype (or `out`). */
export function cast(x: Tensor, dtype: Float, out?: Tensor): Tensor {
  const o = out ?? Tensor.empty(x.backend, dtype, x.shape);
  if (x.dtype === dtype) {
    x.backend.copy(o.storage, o.byteOffset, x.storage, x.byteOffset, x.byteLength);
    return o;
  }
  launch(blend, `${x.dtype}_to_${dtype}`, { out: o, x, n: x.size });
  return o;
}

export interface SlerpOptions {
  /**
   * Length of the rows interpolated independently (the last axis by default is NOT assumed:
   * the default is the whole tensor as one row, as latent blending does).
   */
  rowLength?: number;
  /** |cos θ| above which the rows are treated as parallel and lerped. Default 0.9995. */
  threshold?: number;
  out?: Tensor;
}

/**
 * Spherical interpolation between a and b at t, per row (see kernels/blend.cu). Rows that are
 * near parallel, anti-parallel or zero fall back to lerp, so the result is always finite.
 */
export function slerp(a: Tensor, b: Tensor, t: number, options: SlerpOptions = {}): Tensor {
  const dtype = floatDtype("slerp", a, b, ...(options.out ? [options.out] : []));
  const cols = options.rowLength ?? a.size;
  if (!Number.isInteger(cols) || cols <= 0 || a.size % cols !== 0) {
    throw new RangeError(`slerp rowLength ${cols} does not divide the tensor size ${a.size}`);
  }
  const o = target(options.out, a);
  launch(blend, `slerp_rows_${dtype}`, {
    out: o,
    a,
    b,
    t,
    threshold: options.threshold ?? 0.9995,
    rows: a.size / cols,
    cols,
  });
  return o;
}
