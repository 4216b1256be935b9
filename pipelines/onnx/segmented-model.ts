/**
 * Runs a cut model (graph-cut.ts): its segments in order, one ORT session each, tensors kept on
 * the device, and a callback at every cut that may replace the cut tensor.
 *
 *   using seg = SegmentedModel.load(files, backend);
 *   seg.run(feeds, { out_sample: out }, (cut, tensor) => cut === 0 ? zeroed(tensor) : undefined);
 *
 * Intermediate shapes are learnt on the first run for each set of input shapes (ORT allocates,
 * we copy once) and remembered, with a plan that places every intermediate in an arena: values
 * whose lives do not overlap share a buffer, so the arena's peak is that of the live values.
 * Later runs hand ORT the same arena tensors every time, so it writes in place as it does for an
 * uncut model, each OrtModel finds its bindings unchanged, and nothing is allocated between
 * segment runs. One set of input shapes holds an arena at a time; moving to another gives it
 * back to the backend's pool (runtime/buffer-pool.ts), as dispose() does. A tensor handed to the
 * cut callback is valid only during that call: the next run writes over it.
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

interface Place extends Shape {
  readonly buffer: number;
}

/** One segment's part of a run, for one set of input shapes; numbers index `Schedule.names`. */
interface Step {
  readonly inputs: readonly number[];
  readonly inputNames: readonly string[];
  readonly outputs: readonly number[];
  readonly outputNames: readonly string[];
  /** The value this segment's cut hands to the callback, or -1. */
  readonly cut: number;
  /** The records handed to OrtModel.run, refilled every run (same keys, so the same object shape). */
  readonly feeds: Record<string, Tensor>;
  readonly produced: Record<string, Tensor>;
}

/**
 * Everything a run with these input shapes needs, worked out once on the run that learnt them:
 * every value a run passes between segments has an index, and every value a segment makes has a
 * place in a planned arena, where values whose lives do not overlap share a buffer.
 */
interface Schedule {
  readonly feeds: readonly Named[];
  /** Value index → name: the feeds first, then what the segments make, in order. */
  readonly names: readonly string[];
  readonly steps: readonly Step[];
  /** Per value index: the value's shape and arena buffer; undefined for feeds. */
  readonly places: readonly (Place | undefined)[];
  /** Each arena buffer, as a flat tensor. */
  readonly buffers: readonly Shape[];
  /** This run's tensor per value index, emptied after each run. */
  readonly values: (Tensor | undefined)[];
  /** The arena while this schedule holds it: its buffers and one view per made value. */
  arena: { readonly buffers: Tensor[]; readonly views: (Tensor | undefined)[] } | undefined;
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
    // as little as it can: no allocation, no maps, the same records and tensors every time.
    const arena = schedule.arena ?? this.#reserve(schedule);
    const values = schedule.values;
    const views = arena.views;
    const known = schedule.feeds;
    for (let i = 0; i < known.length; i++) values[i] = feeds[known[i]!.name];
    const steps = schedule.steps;
    try {
      for (let k = 0; k < steps.length; k++) {
        const step = steps[k]!;
        const stepFeeds = step.feeds;
        const inputs = step.inputs;
        for (let j = 0; j < inputs.length; j++) stepFeeds[step.inputNames[j]!] = values[inputs[j]!]!;
        const produced = step.produced;
        const made = step.outputs;
        for (let j = 0; j < made.length; j++) {
          const name = step.outputNames[j]!;
          const t = outputs[name] ?? views[made[j]!]!;
          produced[name] = t;
          values[made[j]!] = t;
        }
        this.#models[k]!.run(stepFeeds, produced);
        if (step.cut >= 0) values[step.cut] = handCut(k, schedule.names[step.cut]!, values[step.cut]!, onCut);
      }
    } finally {
      values.fill(undefined);
    }
  }

  /**
   * Allocates a schedule's arena, after giving back the one another schedule holds: one arena
   * at a time, so memory stays that of one set of input shapes.
   */
  #reserve(schedule: Schedule): NonNullable<Schedule["arena"]> {
    for (const other of this.#schedules.values()) if (other !== schedule) releaseArena(other);
    const buffers: Tensor[] = [];
    try {
      for (const b of schedule.buffers) buffers.push(Tensor.uninitialized(this.backend, b.dtype, b.shape));
    } catch (e) {
      for (const t of buffers) t.dispose();
      throw e;
    }
    const views = schedule.places.map((p) => p && buffers[p.buffer]!.reshape(p.shape));
    schedule.arena = { buffers, views };
    return schedule.arena;
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
        if (segment.cut !== null) {
          const original = live.get(segment.cut)!;
          const carried = handCut(k, segment.cut, original, onCut);
          if (carried !== original) {
            live.set(segment.cut, carried);
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
      const schedule = planSchedule(this.plan, feeds, shapes);
      this.#schedules.set(signatureOf(feeds), schedule);
      this.#last = schedule;
    } finally {
      for (const t of live.values()) release(t);
      for (const t of owned) t.dispose();
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
    for (const schedule of this.#schedules.values()) releaseArena(schedule);
    for (const m of this.#models) m.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Gives a schedule's arena back to the backend's pool; its views then refuse use. */
function releaseArena(schedule: Schedule): void {
  const arena = schedule.arena;
  if (!arena) return;
  schedule.arena = undefined;
  for (const v of arena.views) v?.dispose();
  for (const b of arena.buffers) b.dispose();
}

/**
 * Indexes every value and places each one a segment makes in the arena: a buffer of the same
 * dtype and size whose last value has been read by an earlier segment, or a new one. The
 * arena's peak is that of the live values, as when each is freed to the pool after its last read.
 */
function planSchedule(
  plan: CutPlan,
  feeds: Readonly<Record<string, Tensor>>,
  shapes: ReadonlyMap<string, Shape>,
): Schedule {
  const feedList = Object.entries(feeds).map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] }));
  const names = feedList.map((f) => f.name);
  const index = new Map(names.map((n, i) => [n, i]));
  const places: (Place | undefined)[] = names.map(() => undefined);
  const buffers: Shape[] = [];
  /** Flat buffer key (`f32:1024`) → buffers of that key whose last value has been read. */
  const free = new Map<string, number[]>();
  const elements = (s: Shape) => s.shape.reduce((a, b) => a * b, 1);
  const keyOf = (s: Shape) => `${s.dtype}:${elements(s)}`;
  const steps = plan.segments.map((segment, k): Step => {
    const outputIds = segment.outputs.map((name) => {
      const shape = shapes.get(name)!;
      let buffer = free.get(keyOf(shape))?.pop();
      if (buffer === undefined) {
        buffer = buffers.length;
        buffers.push({ dtype: shape.dtype, shape: [elements(shape)] });
      }
      const id = names.length;
      names.push(name);
      index.set(name, id);
      places[id] = { ...shape, buffer };
      return id;
    });
    for (const name of segment.inputs) {
      const id = index.get(name)!;
      const place = places[id];
      if (place && plan.lastUse[name] === k) {
        const key = keyOf(place);
        const list = free.get(key) ?? [];
        list.push(place.buffer);
        free.set(key, list);
      }
    }
    return {
      inputs: segment.inputs.map((name) => index.get(name)!),
      inputNames: segment.inputs,
      outputs: outputIds,
      outputNames: segment.outputs,
      cut: segment.cut === null ? -1 : index.get(segment.cut)!,
      feeds: {},
      produced: {},
    };
  });
  return { feeds: feedList, names, steps, places, buffers, values: new Array(names.length).fill(undefined), arena: undefined };
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

/** Hands cut `k`'s tensor to `onCut`: what later segments read, the original or its checked replacement. */
function handCut(k: number, name: string, original: Tensor, onCut: CutCallback): Tensor {
  const replacement = onCut(k, original);
  if (!replacement || replacement === original) return original;
  replacement.assertLive();
  const same = replacement.dtype === original.dtype && replacement.shape.length === original.shape.length && replacement.shape.every((d, i) => d === original.shape[i]);
  if (!same || replacement.backend !== original.backend) {
    throw new TypeError(
      `hook at "${name}" returned ${replacement.dtype} [${replacement.shape}] on ${replacement.device}; ` +
        `it must match ${original.dtype} [${original.shape}] on ${original.device}`,
    );
  }
  return replacement;
}
