/**
 * The drawing board the tiny builders share: a GraphBuilder that names nodes the way
 * torch.onnx does (`/down_blocks.0/resnets.0/conv1/Conv`, repeats `_1`, `_2` …), seeded weights
 * keyed by parameter name, and cached constants.
 *
 *   const net = new Net("unet", new Rng(seed).fork(STREAM_UNET));
 *   const w = net.normal("conv_in.weight", [32, 4, 3, 3], 0.1);
 *   const y = net.op("/conv_in", "Conv", [x, w], { pads: [1, 1, 1, 1] });
 */
import { type AttrValue, GraphBuilder, type ValueRef } from "../../onnx/model-builder.ts";
import { Rng } from "../random.ts";

export type { ValueRef } from "../../onnx/model-builder.ts";

/** FNV-1a of a parameter name: the stream id its weights are drawn from. */
function nameId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export class Net {
  readonly g: GraphBuilder;
  readonly #counts = new Map<string, number>();
  readonly #consts = new Map<string, ValueRef>();

  /** `rng`: the model's stream; each weight forks its own stream by name, so order never matters. */
  constructor(name: string, readonly rng: Rng) {
    this.g = new GraphBuilder(name);
  }

  /** A node named `${scope}/${op}` (`_n` on repeats), as torch.onnx names module-scoped nodes. */
  op(scope: string, op: string, inputs: readonly (ValueRef | null)[], attrs?: Readonly<Record<string, AttrValue>>): ValueRef {
    return this.g.node(op, inputs, { name: this.#nodeName(scope, op), attrs });
  }

  /** Like `op` for multi-output nodes (Split). */
  ops(scope: string, op: string, inputs: readonly ValueRef[], count: number, attrs?: Readonly<Record<string, AttrValue>>): ValueRef[] {
    return this.g.nodeOutputs(op, inputs, count, { name: this.#nodeName(scope, op), attrs });
  }

  #nodeName(scope: string, op: string): string {
    const base = `${scope}/${op}`;
    const n = this.#counts.get(base) ?? 0;
    this.#counts.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  }

  /** Seeded N(mean, std²) weights under `name`. */
  normal(name: string, shape: readonly number[], std: number, mean = 0): ValueRef {
    return this.g.initializer(name, this.draw(name, shape, std, mean), shape);
  }

  /** The data `normal` would store under `name`, for callers that adjust it first. */
  draw(name: string, shape: readonly number[], std: number, mean = 0): Float32Array {
    const data = this.rng.fork(nameId(name)).normal(new Float32Array(shape.reduce((a, b) => a * b, 1)));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * data[i]!;
    return data;
  }

  /** Fixed f32 weights under `name`. */
  fixed(name: string, data: Float32Array, shape: readonly number[]): ValueRef {
    return this.g.initializer(name, data, shape);
  }

  /** An int64 constant (shapes, axes, indices), shared by every node that needs the same values. */
  ints(values: readonly number[], shape: readonly number[] = [values.length]): ValueRef {
    return this.#constant(`i64[${shape}]:${values}`, () => this.g.initializer(`const_i64_${this.#consts.size}`, BigInt64Array.from(values.map(BigInt)), shape));
  }

  /** An f32 constant; `shape` [] for a scalar. */
  floats(values: readonly number[], shape: readonly number[] = []): ValueRef {
    return this.#constant(`f32[${shape}]:${values}`, () => this.g.initializer(`const_f32_${this.#consts.size}`, Float32Array.from(values), shape));
  }

  #constant(key: string, make: () => ValueRef): ValueRef {
    let ref = this.#consts.get(key);
    if (!ref) {
      ref = make();
      this.#consts.set(key, ref);
    }
    return ref;
  }
}

/** The parameter path of a module scope: "/down_blocks.0/conv1" → "down_blocks.0.conv1". */
export function paramName(scope: string, leaf: string): string {
  return `${scope.replace(/^\//, "").replaceAll("/", ".")}.${leaf}`;
}

/**
 * Per-timestep gains as graph values: each 1001-entry table (t = 0…1000) is read at the
 * (possibly fractional) scalar `timestep`, clipped to [0, 999], by linear interpolation.
 */
export function timestepTables<K extends string>(
  net: Net,
  scope: string,
  timestep: ValueRef,
  tables: Readonly<Record<K, Float32Array>>,
): Record<K, ValueRef> {
  const t = net.op(scope, "Clip", [timestep, net.floats([0]), net.floats([999])]);
  const lower = net.op(scope, "Floor", [t]);
  const frac = net.op(scope, "Sub", [t, lower]);
  const i0 = net.op(scope, "Cast", [lower], { to: 7 });
  const i1 = net.op(scope, "Add", [i0, net.ints([1], [])]);
  const lookup = (name: K) => {
    const table = net.fixed(`tiny_prior.${name}_table`, tables[name], [1001]);
    const v0 = net.op(scope, "Gather", [table, i0], { axis: 0 });
    const v1 = net.op(scope, "Gather", [table, i1], { axis: 0 });
    return net.op(scope, "Add", [v0, net.op(scope, "Mul", [net.op(scope, "Sub", [v1, v0]), frac])]);
  };
  const out = {} as Record<K, ValueRef>;
  for (const name of Object.keys(tables) as K[]) out[name] = lookup(name);
  return out;
}
