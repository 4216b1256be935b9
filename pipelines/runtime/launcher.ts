import { evalExtent, type KernelFamily, type KernelSignature } from "../../kernels/signature.ts";
import { variantOf } from "../../kernels/variants.ts";
import type { Backend, LaunchArg } from "./backend.ts";
import { Tensor } from "./tensor.ts";
import { nanoseconds, timing } from "./timing.ts";

/** A kernel call that does not match the kernel's declared signature. Nothing was launched. */
export class KernelArgumentError extends TypeError {
  constructor(kernel: string, problem: string) {
    super(`${kernel}: ${problem}`);
    this.name = "KernelArgumentError";
  }
}

const i32Range = 2 ** 31;

/**
 * Checks a call against the kernel's signature (names, dtypes, devices, lengths, scalar ranges)
 * and only then hands it to the backend. `args` names every argument of the signature.
 */
export function launch(family: KernelFamily, kernelName: string, args: Readonly<Record<string, Tensor | number>>): void {
  const kernel = family.kernels[kernelName];
  if (!kernel) {
    throw new KernelArgumentError(kernelName, `no such kernel in kernels/${family.name}.cu; known: ${Object.keys(family.kernels).join(", ")}`);
  }
  const { backend, launchArgs, integers } = validate(kernel, args);
  const { op, dtype } = variantOf(kernel);
  if (!backend.supports(family, op, dtype)) {
    // Declared (it was found above), so the backend's build of the family failed or lacks it.
    throw new KernelArgumentError(
      kernel.name,
      `${op} for ${dtype} is not supported on ${backend.device}: its build of kernels/${family.name}.cu failed or lacks it`,
    );
  }
  const count = evalExtent(kernel.grid.count, integers);
  if (count === 0) return;
  if (!timing.enabled) return backend.launch(family, kernel, launchArgs, count);
  const t0 = nanoseconds();
  backend.launch(family, kernel, launchArgs, count);
  timing.kernelNs += nanoseconds() - t0;
  timing.kernelCalls++;
}

function validate(kernel: KernelSignature, args: Readonly<Record<string, Tensor | number>>) {
  const fail = (problem: string): never => {
    throw new KernelArgumentError(kernel.name, problem);
  };
  const declared = new Set(kernel.args.map((a) => a.name));
  for (const name of Object.keys(args)) if (!declared.has(name)) fail(`unknown argument "${name}"`);

  const integers: Record<string, number> = {};
  for (const a of kernel.args) {
    if (a.kind !== "scalar") continue;
    const v = args[a.name];
    if (typeof v !== "number") fail(`scalar "${a.name}" must be a number, got ${describe(v)}`);
    const n = v as number;
    if (a.type === "f32") continue; // NaN and Inf are legitimate fill values
    if (!Number.isSafeInteger(n)) fail(`"${a.name}" must be an integer, got ${n}`);
    if (a.type === "i32" && (n < -i32Range || n >= i32Range)) fail(`"${a.name}" = ${n} does not fit in i32`);
    integers[a.name] = n;
  }

  let backend: Backend | undefined;
  const launchArgs: LaunchArg[] = [];
  for (const a of kernel.args) {
    const v = args[a.name];
    if (a.kind === "scalar") {
      launchArgs.push({ kind: "scalar", type: a.type, value: v as number });
      continue;
    }
    if (!(v instanceof Tensor)) fail(`buffer "${a.name}" must be a Tensor, got ${describe(v)}`);
    const t = v as Tensor;
    if (t.isDisposed) fail(`buffer "${a.name}" was disposed`);
    if (t.dtype !== a.dtype) fail(`buffer "${a.name}" is ${t.dtype}, expected ${a.dtype}`);
    backend ??= t.backend;
    if (t.backend !== backend) fail(`buffer "${a.name}" is on ${t.device}, the others on ${backend.device}`);
    if (t.storage.kind !== (backend.device === "cpu" ? "cpu" : "cuda")) {
      fail(`buffer "${a.name}" holds ${t.storage.kind} memory but claims ${t.device}`);
    }
    const extent = evalExtent(a.extent, integers);
    if (extent < 0) fail(`extent ${a.extent} of "${a.name}" is negative (${extent})`);
    if (t.size < extent) fail(`buffer "${a.name}" has ${t.size} elements, needs ${a.extent} = ${extent}`);
    launchArgs.push({ kind: "buffer", storage: t.storage, byteOffset: t.byteOffset });
  }
  if (!backend) fail("has no buffer arguments");
  return { backend: backend as Backend, launchArgs, integers };
}

function describe(v: unknown): string {
  return v === undefined ? "nothing" : v instanceof Tensor ? "a Tensor" : typeof v;
}
