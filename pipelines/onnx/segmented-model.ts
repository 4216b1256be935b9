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

interface Named extends Shape {
  readonly name: string;
}

/** One segment's part of a run, for one set of input shapes. */
interface Step {
  readonly inputs: readonly string[];
  readonly outputs: readonly Named[];
  /** Tensors whose last reader this segment is: released after it. */
  readonly dying: readonly string[];
  /** The records handed to OrtModel.run, refilled every run (same keys, so the same object shape). */
  readonly feeds: Record<string, Tensor>;
  readonly produced: Record<string, Tensor>;
}

/** Everything a run with these input shapes needs, worked out once on the run that learnt them. */
interface Schedule {
  readonly feeds: readonly Named[];
  readonly steps: readonly Step[];
}

export class SegmentedModel implements Disposable {
  readonly #models: OrtModel[];
  /** Input-shape signature → schedule. */
  readonly #schedules = new Map<string, Schedule>();
  #last: Schedule | undefined;

  private constructor(
    readonly plan: CutPlan,
    readonly backend: Backend,
    models: OrtModel[],
  ) {
    this.#models = models;
  }

  static load(segments: SegmentFiles, backend: Backend, options: { threads?: number; optimization?: "extended" | "all" } = {}): SegmentedModel {
    const models: OrtModel[] = [];
    try {
      for (const file of segments.files) {
        // One shared arena: each segment's intermediates reuse the memory the previous one freed.
        models.push(OrtModel.load(file, backend, { threads: options.threads, externalDataDir: segments.externalDataDir, sharedCpuArena: true, optimization: options.optimization }));
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
    const schedule = this.#scheduleFor(feeds);
    if (!schedule) return this.#learn(feeds, outputs, onCut);
    // Work between segment runs is done with caches cold from the last run, so this path does
    // as little as it can: no strings, no entries arrays, the same records every time.
    const live = new Map<string, Tensor>();
    for (const name in feeds) live.set(name, feeds[name]!);
    const owned = new Set<Tensor>();
    const release = (t: Tensor) => {
      if (owned.delete(t)) t.dispose();
    };
    const steps = schedule.steps;
    try {
      for (let k = 0; k < steps.length; k++) {
        const step = steps[k]!;
        const model = this.#models[k]!;
        const stepFeeds = step.feeds;
        for (const name of step.inputs) {
          const t = live.get(name);
          if (!t) throw new ModelError(`${model.path}: input "${name}" was neither fed nor made by an earlier segment`);
          stepFeeds[name] = t;
        }
        const produced = step.produced;
        for (const o of step.outputs) {
          let t = outputs[o.name];
          if (t === undefined) {
            t = Tensor.uninitialized(this.backend, o.dtype, o.shape);
            owned.add(t);
          }
          produced[o.name] = t;
          live.set(o.name, t);
        }
        model.run(stepFeeds, produced);
        const cut = this.plan.segments[k]!.cut;
        if (cut !== null) this.#cut(k, cut, live, onCut, release);
        for (const name of step.dying) {
          const t = live.get(name);
          live.delete(name);
          if (t) release(t);
        }
      }
    } finally {
      for (const t of live.values()) release(t);
      for (const t of owned) t.dispose();
    }
  }

  /** The first run for a set of input shapes: ORT allocates the intermediates, and we note their shapes. */
  #learn(feeds: Readonly<Record<string, Tensor>>, outputs: Readonly<Record<string, Tensor>>, onCut: CutCallback): void {
    const shapes = new Map<string, Shape>();
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
        const produced = model.runAllocating(inputs, segment.outputs);
        for (const [name, t] of Object.entries(produced)) {
          shapes.set(name, { dtype: t.dtype, shape: t.shape });
          const target = outputs[name];
          if (target) {
            target.backend.copy(target.storage, target.byteOffset, t.storage, t.byteOffset, t.byteLength);
            t.dispose();
            produced[name] = target;
          } else owned.add(t);
        }
        for (const [name, t] of Object.entries(produced)) live.set(name, t);
        if (segment.cut !== null) this.#cut(k, segment.cut, live, onCut, release);
        for (const name of segment.inputs) {
          if (this.plan.lastUse[name] === k) {
            const t = live.get(name);
            live.delete(name);
            if (t) release(t);
          }
        }
      });
      const schedule: Schedule = {
        feeds: Object.entries(feeds).map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] })),
        steps: this.plan.segments.map((segment, k) => ({
          inputs: segment.inputs,
          outputs: segment.outputs.map((name) => ({ name, ...shapes.get(name)! })),
          dying: segment.inputs.filter((name) => this.plan.lastUse[name] === k),
          feeds: {},
          produced: {},
        })),
      };
      this.#schedules.set(signatureOf(feeds), schedule);
      this.#last = schedule;
    } finally {
      for (const t of live.values()) release(t);
      for (const t of owned) t.dispose();
    }
  }

  /** Hands the cut tensor to `onCut` and puts a replacement, if any, in its place. */
  #cut(k: number, name: string, live: Map<string, Tensor>, onCut: CutCallback, release: (t: Tensor) => void): void {
    const original = live.get(name)!;
    const replacement = onCut(k, original);
    if (replacement && replacement !== original) {
      checkReplacement(name, original, replacement);
      live.set(name, replacement);
      release(original);
    }
  }

  /** The schedule for these feeds' shapes: usually the last one, checked without building a key. */
  #scheduleFor(feeds: Readonly<Record<string, Tensor>>): Schedule | undefined {
    const last = this.#last;
    if (last !== undefined && sameShapes(last.feeds, feeds)) return last;
    const found = this.#schedules.get(signatureOf(feeds));
    if (found !== undefined) this.#last = found;
    return found;
  }

  dispose(): void {
    for (const m of this.#models) m.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function signatureOf(feeds: Readonly<Record<string, Tensor>>): string {
  return Object.entries(feeds)
    .map(([n, t]) => `${n}:${t.dtype}[${t.shape}]`)
    .sort()
    .join(";");
}

function sameShapes(known: readonly Named[], feeds: Readonly<Record<string, Tensor>>): boolean {
  let count = 0;
  for (const _ in feeds) count++;
  if (count !== known.length) return false;
  for (const k of known) {
    const t = feeds[k.name];
    if (t === undefined || t.dtype !== k.dtype || t.shape.length !== k.shape.length) return false;
    for (let i = 0; i < k.shape.length; i++) if (t.shape[i] !== k.shape[i]) return false;
  }
  return true;
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
