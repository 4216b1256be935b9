import { bytesPerElement, type DType, type KernelFamily, type KernelSignature } from "./signature.ts";

/**
 * A kernel as an operation on one element type, read from its C name by one rule: a name ending
 * in `_<dtype>` is that operation for that dtype (`lerp_f16` is lerp for f16, `f32_to_f16` is
 * f32_to for f16); any other name (`edges_to_rgb24`) is an operation of its own, typed by its
 * first output buffer. This is what `Backend.supports(family, op, dtype)` is asked about.
 */
export interface KernelVariant {
  readonly op: string;
  readonly dtype: DType;
}

const DTYPES = Object.keys(bytesPerElement) as DType[];

export function variantOf(kernel: KernelSignature): KernelVariant {
  const cached = variants.get(kernel);
  if (cached) return cached;
  const suffix = DTYPES.find((d) => kernel.name.endsWith(`_${d}`));
  const firstOutput = kernel.args.find((a) => a.kind === "buffer" && a.writes);
  const variant: KernelVariant = suffix
    ? { op: kernel.name.slice(0, -suffix.length - 1), dtype: suffix }
    : { op: kernel.name, dtype: firstOutput?.kind === "buffer" ? firstOutput.dtype : "u8" };
  variants.set(kernel, variant);
  return variant;
}

const variants = new WeakMap<KernelSignature, KernelVariant>();
const indexes = new WeakMap<KernelFamily, Map<string, KernelSignature>>();

const variantKey = (op: string, dtype: DType) => `${op}\0${dtype}`;

/** The kernel a family declares for `op` on `dtype`, if any. */
export function findKernel(family: KernelFamily, op: string, dtype: DType): KernelSignature | undefined {
  let index = indexes.get(family);
  if (!index) {
    index = new Map();
    for (const kernel of Object.values(family.kernels)) {
      const { op, dtype } = variantOf(kernel);
      const clash = index.get(variantKey(op, dtype));
      if (clash) throw new Error(`kernels/${family.name}.ts: ${clash.name} and ${kernel.name} are both ${op} for ${dtype}`);
      index.set(variantKey(op, dtype), kernel);
    }
    indexes.set(family, index);
  }
  return index.get(variantKey(op, dtype));
}

/** The dtypes a family declares `op` for, in declaration order (for error messages). */
export function declaredDtypes(family: KernelFamily, op: string): DType[] {
  return Object.values(family.kernels)
    .map(variantOf)
    .filter((v) => v.op === op)
    .map((v) => v.dtype);
}
