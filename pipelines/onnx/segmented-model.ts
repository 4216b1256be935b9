/**
 * Runs a cut model (graph-cut.ts): its segments in order, one ORT session each, tensors kept on
 * the device, and a callback at every cut that may replace the cut tensor.
 *
 *   using seg = SegmentedModel.load(files, backend);
 *   seg.run(feeds, { out_sample: out }, (cut, tensor) => cut === 0 ? zeroed(tensor) : undefined);
 *
 * Intermediate shapes are learnt on the first run for each set of input shapes (ORT allocates,
 * we copy once) and remembered; later runs allocate tensors of those shapes, so ORT writes in
 * place as it does for an uncut model. Each intermediate is disposed after its last reader has
 * run; its buffer goes back to the backend's pool (runtime/buffer-pool.ts), and the next
 * tensor of that size, in this run or the next, gets it. Runs repeat the same allocations in
 * the same order, so a step's segments see the very buffers the previous step's did, and each
 * OrtModel finds its bindings unchanged. A tensor handed to the cut callback is valid only
 * during that call.
 */
import type { Backend } from "../runtime/backend.ts";
import { OrtModel } from "../runtime/ort-model.ts";
import { Tensor } from "../runtime/tensor.ts";
import { ModelError } from "../errors.ts";
import type { CutPlan, SegmentFiles } from "./graph-cut.ts";

/** Called with the cut index (order of `plan.cuts`) and the tensor; may return a same-shaped replacement. */
export type CutCallback = (cut: number, tensor: Tensor) => Tensor | void;

interface Shape {
  readonly dtype: Tensor["dtype"];
  readonly shape: readonly number[];
}

export class SegmentedModel implements Disposable {
  readonly #models: OrtModel[];
  /** Input-shape signature → tensor name → dtype and shape. */
  readonly #shapes = new Map<string, Map<string, Shape>>();

  private constructor(
    readonly plan: CutPlan,
    readonly backend: Backend,
    models: OrtModel[],
  ) {
    this.#models = models;
  }

  static load(segments: SegmentFiles, backend: Backend, options: { threads?: number } = {}): SegmentedModel {
    const models: OrtModel[] = [];
    try {
      for (const file of segments.files) {
        // One shared arena: each segment's intermediates reuse the memory the previous one freed.
        models.push(OrtModel.load(file, backend, { threads: options.threads, externalDataDir: segments.externalDataDir, sharedCpuArena: true }));
      }
    } catch (e) {
      for (const m of models) m.dispose();
      throw e;
    }
    return new SegmentedModel(segments.plan, backend, models);
  }

  get segmentCount(): number {
    return this.#models.length;
  }

  /**
   * Runs every segment. `feeds` are the graph inputs; graph outputs named in `outputs` are
   * written into those tensors. `onCut` sees each cut tensor once, in plan order.
   */
  run(feeds: Readonly<Record<string, Tensor>>, outputs: Readonly<Record<string, Tensor>>, onCut: CutCallback): void {
    const signature = Object.entries(feeds)
      .map(([n, t]) => `${n}:${t.dtype}[${t.shape}]`)
      .sort()
      .join(";");
    let shapes = this.#shapes.get(signature);
    const learning = !shapes;
    shapes ??= new Map();
    const live = new Map<string, Tensor>(Object.entries(feeds));
    /** Intermediates this run made and has not disposed yet. */
    const owned = new Set<Tensor>();
    const release = (t: Tensor) => {
      if (owned.delete(t)) t.dispose();
    };
    try {
      this.plan.segments.forEach((segment, k) => {
        const model = this.#models[k]!;
        const inputs: Record<string, Tensor> = {};
        for (const name of segment.inputs) {
          const t = live.get(name);
          if (!t) throw new ModelError(`${model.path}: input "${name}" was neither fed nor made by an earlier segment`);
          inputs[name] = t;
        }
        let produced: Record<string, Tensor>;
        if (learning) {
          produced = model.runAllocating(inputs, segment.outputs);
          for (const [name, t] of Object.entries(produced)) {
            shapes!.set(name, { dtype: t.dtype, shape: t.shape });
            const target = outputs[name];
            if (target) {
              target.backend.copy(target.storage, target.byteOffset, t.storage, t.byteOffset, t.byteLength);
              t.dispose();
              produced[name] = target;
            } else owned.add(t);
          }
        } else {
          produced = {};
          for (const name of segment.outputs) {
            const s = shapes!.get(name)!;
            const t = outputs[name] ?? Tensor.uninitialized(this.backend, s.dtype, s.shape);
            if (!outputs[name]) owned.add(t);
            produced[name] = t;
          }
          model.run(inputs, produced);
        }
        for (const [name, t] of Object.entries(produced)) live.set(name, t);
        if (segment.cut !== null) {
          const original = live.get(segment.cut)!;
          const replacement = onCut(k, original);
          if (replacement && replacement !== original) {
            checkReplacement(segment.cut, original, replacement);
            live.set(segment.cut, replacement);
            release(original);
          }
        }
        for (const name of segment.inputs) {
          if (this.plan.lastUse[name] === k) {
            const t = live.get(name);
            live.delete(name);
            if (t) release(t);
          }
        }
      });
      if (learning) this.#shapes.set(signature, shapes);
    } finally {
      for (const t of live.values()) release(t);
      for (const t of owned) t.dispose();
    }
  }

  dispose(): void {
    for (const m of this.#models) m.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function checkReplacement(name: string, original: Tensor, replacement: Tensor): void {
  replacement.assertLive();
  const same = replacement.dtype === original.dtype && replacement.shape.length === original.shape.length && replacement.shape.every((d, i) => d === original.shape[i]);
  if (!same || replacement.backend !== original.backend) {
    throw new TypeError(
      `hook at "${name}" returned ${replacement.dtype} [${replacement.shape}] on ${replacement.device}; ` +
        `it must match ${original.dtype} [${original.shape}] on ${original.device}`,
    );
  }
}
