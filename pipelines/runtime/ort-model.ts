import { readFileSync } from "node:fs";
import { IoBinding, MemoryInfo, OrtError, Session, setThreadSpinning, type TensorInfo, Value } from "../../ffi/ort/index.ts";
import { type DType, KERNEL_DTYPES } from "../../kernels/signature.ts";
import { ModelError } from "../errors.ts";
import { type Backend, cudaOrdinal } from "./backend.ts";
import { Tensor } from "./tensor.ts";
import { nanoseconds, timing } from "./timing.ts";

export type { TensorInfo };

/**
 * Jobs that run heavy CPU kernels between model runs (hooks) call this before loading any model:
 * ONNX Runtime's threads then sleep between runs instead of spinning on the cores the kernels
 * need. Returns false when models were already loaded (then it has no effect).
 */
export function preferKernelsBetweenRuns(): boolean {
  return setThreadSpinning(false);
}

export interface OrtModelOptions {
  /** Intra-op threads of a pool of the session's own; default: the process-wide shared pool. */
  readonly threads?: number;
  /**
   * Load the file's bytes and resolve external data against this folder instead of the file's
   * own (segments of a cut model read the original model's weights file).
   */
  readonly externalDataDir?: string;
  /** Session config entries (`session.intra_op.allow_spinning` …). */
  readonly config?: Readonly<Record<string, string>>;
  /**
   * Intermediates in the process-wide CPU arena that other such models share, instead of an
   * arena of this model's own: for models that run one after another, like a cut UNet's
   * segments, whose intermediates then reuse memory that is still in cache.
   */
  readonly sharedCpuArena?: boolean;
  /**
   * ORT's graph optimisation: "all" (default) includes the CPU EP's NCHWc layout pass, which
   * picks conv kernels per session, so a cut model's segments round differently from the whole
   * graph (≤ 2e-6 on the exporter fixtures); "extended" stops before it, and then a cut model with
   * identity hooks gives the uncut bytes. Segments of a cut model use their source model's level.
   */
  readonly optimization?: "extended" | "all";
}

/**
 * An OrtValue over one tensor's memory, and the memory, dtype and shape it wraps, to tell
 * whether a later call's tensor is that very one.
 */
interface Wrapped {
  readonly value: Value;
  /** CPU: the tensor's ArrayBuffer (kept alive by the Value); CUDA: the buffer's device address. */
  readonly memory: ArrayBuffer | number;
  readonly byteOffset: number;
  readonly byteLength: number;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** One input or output name: the Values it was given lately, most recent first. */
interface Slot {
  readonly recent: Wrapped[];
  /** Whether recent[0] is what the IoBinding holds for the name now. */
  bound: boolean;
}

/** The inputs or the outputs of a model's binding. */
interface Side {
  readonly inputs: boolean;
  readonly slots: Map<string, Slot>;
  boundCount: number;
}

/**
 * Values kept per name. Two, because loops often alternate between two buffers (a sampler's
 * x_t and x_t-1, or two same-sized pooled buffers trading places between runs): the
 * alternation then finds its Value and only binds it again.
 */
const RECENT_PER_NAME = 2;

/**
 * One ONNX model bound to a device. Inputs and outputs are our Tensors: the caller allocates the
 * outputs (their shapes are known from the inputs in every SD model) and ORT writes straight into
 * them, so nothing is copied on the CPU and nothing leaves the GPU on CUDA.
 *
 * Bindings persist between runs: a name whose tensor has the same memory (buffer and offset, or
 * device address), byte length, dtype and shape as last time keeps its OrtValue and binding, so
 * a loop over fixed buffers (a sampler's steps, a cut UNet's segments drawing on the backend's
 * pool) makes no OrtValue and binds nothing. Anything else is bound anew, and a call with
 * other names than the last clears the old ones first, so no stale binding is ever run.
 */
export class OrtModel implements Disposable {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly #binding: IoBinding;
  readonly #memoryInfo: MemoryInfo | undefined;
  readonly #inputSide: Side = { inputs: true, slots: new Map(), boundCount: 0 };
  readonly #outputSide: Side = { inputs: false, slots: new Map(), boundCount: 0 };
  /**
   * ORT copies an input at bind time when the session wants it on another device than it is
   * (a CUDA session with an input some CPU node reads), so on CUDA inputs are bound again every
   * run, from their kept OrtValues; a CPU session reads every input in place.
   */
  readonly #rebindInputs: boolean;

  private constructor(
    readonly path: string,
    readonly backend: Backend,
    readonly session: Session,
    readonly optimization: "extended" | "all",
  ) {
    this.inputs = session.inputs;
    this.outputs = session.outputs;
    this.#binding = new IoBinding(session);
    this.#memoryInfo = backend.device === "cpu" ? undefined : MemoryInfo.cuda(cudaOrdinal(backend.device));
    this.#rebindInputs = backend.device !== "cpu";
  }

  /** Loads `path` (external data next to it is found by ORT). A bad file is a ModelError naming it. */
  static load(path: string, backend: Backend, options: OrtModelOptions = {}): OrtModel {
    try {
      const source = options.externalDataDir === undefined ? path : new Uint8Array(readFileSync(path));
      const session = Session.create(source, {
        ...(options.threads === undefined ? { sharedThreadPool: true } : { intraOpThreads: options.threads }),
        graphOptimization: options.optimization ?? "all",
        ...(options.externalDataDir === undefined ? {} : { externalDataDir: options.externalDataDir }),
        ...(options.config ? { config: options.config } : {}),
        ...(options.sharedCpuArena ? { sharedCpuArena: true } : {}),
        ...(backend.device === "cpu"
          ? {}
          : { cuda: { deviceId: cudaOrdinal(backend.device), stream: backend.stream } }),
      });
      return new OrtModel(path, backend, session, options.optimization ?? "all");
    } catch (e) {
      if (e instanceof OrtError) throw new ModelError(`${path}: ONNX Runtime cannot load it: ${firstLine(e.message)}`);
      throw e;
    }
  }

  input(name: string): TensorInfo | undefined {
    return this.inputs.find((i) => i.name === name);
  }

  output(name: string): TensorInfo | undefined {
    return this.outputs.find((o) => o.name === name);
  }

  /** Runs the model on `feeds`, writing into the preallocated `outputs`. */
  run(feeds: Readonly<Record<string, Tensor>>, outputs: Readonly<Record<string, Tensor>>): void {
    try {
      this.#bind(feeds, this.#inputSide);
      this.#bind(outputs, this.#outputSide);
      this.#runBound();
    } catch (e) {
      // Whatever was half bound goes; the next call starts afresh.
      this.#unbindAll();
      if (e instanceof OrtError) throw new ModelError(`${this.path}: ${firstLine(e.message)}`);
      throw e;
    }
  }

  /**
   * Runs the model and lets ORT allocate the outputs named in `names`, for graphs whose output
   * shapes are not known before running (segments of a cut UNet). Each output is copied into a
   * new Tensor on this model's device; on CUDA ORT hands them over through host memory, so this
   * suits a first run that learns the shapes, after which `run` writes into preallocated tensors.
   */
  runAllocating(feeds: Readonly<Record<string, Tensor>>, names: readonly string[]): Record<string, Tensor> {
    const values: Value[] = [];
    const binding = this.#binding;
    const result: Record<string, Tensor> = {};
    this.#unbindAll();
    try {
      for (const [name, tensor] of Object.entries(feeds)) {
        const v = this.#value(tensor);
        values.push(v);
        binding.bindInput(name, v);
      }
      using host = MemoryInfo.cpu();
      for (const name of names) binding.bindOutputToDevice(name, host);
      this.#runBound();
      const produced = binding.outputs();
      try {
        for (const [name, value] of Object.entries(produced)) {
          const dtype = tensorDtype({ name, dtype: value.dtype, dims: [], dimNames: [] });
          if (!dtype) throw new ModelError(`${this.path}: output "${name}" is ${value.dtype}, which tensors cannot hold`);
          result[name] = Tensor.from(this.backend, dtype, value.shape, value.data as never);
        }
      } finally {
        for (const v of Object.values(produced)) v.dispose();
      }
      return result;
    } catch (e) {
      for (const t of Object.values(result)) t.dispose();
      if (e instanceof OrtError) throw new ModelError(`${this.path}: ${firstLine(e.message)}`);
      throw e;
    } finally {
      binding.clear();
      for (const v of values) v.dispose();
    }
  }

  dispose(): void {
    if (this.session.disposed) return;
    this.#unbindAll();
    this.#binding.dispose();
    this.#memoryInfo?.dispose();
    this.session.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Runs what is bound, waits for device outputs, and counts the time for benchmarks. */
  #runBound(): void {
    const t0 = timing.enabled ? nanoseconds() : 0;
    this.#binding.run();
    if (this.#memoryInfo) this.#binding.synchronizeOutputs();
    if (timing.enabled) {
      timing.ortNs += nanoseconds() - t0;
      timing.ortCalls++;
    }
  }

  /**
   * Makes one side of the binding (inputs or outputs) hold exactly `tensors`, reusing the
   * Values of tensors seen lately under the same name.
   */
  #bind(tensors: Readonly<Record<string, Tensor>>, side: Side): void {
    // A name bound last time but not given now would still be run: then unbind this side first.
    let kept = 0;
    for (const name in tensors) if (side.slots.get(name)?.bound) kept++;
    if (kept !== side.boundCount) this.#clear(side, tensors);
    const binding = this.#binding;
    for (const name in tensors) {
      const t = tensors[name]!;
      t.assertLive();
      if (t.backend !== this.backend) {
        throw new Error(`${this.path}: a tensor on ${t.device} was given to a model on ${this.backend.device}`);
      }
      let slot = side.slots.get(name);
      if (slot === undefined) {
        slot = { recent: [], bound: false };
        side.slots.set(name, slot);
      }
      const recent = slot.recent;
      if (slot.bound && wraps(recent[0]!, t)) {
        if (side.inputs && this.#rebindInputs) binding.bindInput(name, recent[0]!.value);
        continue;
      }
      let found = slot.bound ? 1 : 0;
      while (found < recent.length && !wraps(recent[found]!, t)) found++;
      const fresh = found === recent.length;
      const entry = fresh ? this.#wrap(t) : recent[found]!;
      try {
        if (side.inputs) binding.bindInput(name, entry.value);
        else binding.bindOutput(name, entry.value);
      } catch (e) {
        if (fresh) entry.value.dispose();
        throw e;
      }
      if (!fresh) recent.splice(found, 1);
      recent.unshift(entry);
      while (recent.length > RECENT_PER_NAME) recent.pop()!.value.dispose();
      if (!slot.bound) {
        slot.bound = true;
        side.boundCount++;
      }
    }
  }

  /** Unbinds one side; names not in `keep` also lose their Values. */
  #clear(side: Side, keep?: Readonly<Record<string, Tensor>>): void {
    if (side.boundCount > 0) {
      if (side.inputs) this.#binding.clearInputs();
      else this.#binding.clearOutputs();
    }
    for (const [name, slot] of side.slots) {
      if (keep !== undefined && name in keep) {
        slot.bound = false;
        continue;
      }
      for (const w of slot.recent) w.value.dispose();
      side.slots.delete(name);
    }
    side.boundCount = 0;
  }

  #unbindAll(): void {
    this.#clear(this.#inputSide);
    this.#clear(this.#outputSide);
  }

  #wrap(t: Tensor): Wrapped {
    const storage = t.storage;
    const shape = [...t.shape];
    if (storage.kind === "cpu") {
      const value = Value.fromTypedArray(t.dtype, shape, t.hostView() as never);
      return { value, memory: storage.buffer, byteOffset: t.byteOffset, byteLength: t.byteLength, dtype: t.dtype, shape };
    }
    const value = Value.fromDevicePointer(this.#memoryInfo!, storage.pointer + t.byteOffset, t.byteLength, shape, t.dtype);
    return { value, memory: storage.pointer, byteOffset: t.byteOffset, byteLength: t.byteLength, dtype: t.dtype, shape };
  }

  #value(t: Tensor): Value {
    t.assertLive();
    if (t.backend !== this.backend) {
      throw new Error(`${this.path}: a tensor on ${t.device} was given to a model on ${this.backend.device}`);
    }
    return this.#wrap(t).value;
  }
}

/** Whether `b` wraps exactly `t`'s memory, byte length, dtype and shape. */
function wraps(b: Wrapped, t: Tensor): boolean {
  const storage = t.storage;
  const memory = storage.kind === "cpu" ? storage.buffer : storage.pointer;
  if (b.memory !== memory || b.byteOffset !== t.byteOffset || b.dtype !== t.dtype) return false;
  // A detached buffer's memory is gone: wrapping it afresh reports that.
  if (storage.kind === "cpu" && (storage.buffer as ArrayBuffer & { detached?: boolean }).detached) return false;
  const shape = t.shape;
  if (b.shape.length !== shape.length) return false;
  for (let i = 0; i < shape.length; i++) if (b.shape[i] !== shape[i]) return false;
  return b.byteLength === t.byteLength;
}

/** Our dtype for an ONNX input/output, or undefined for types our tensors cannot hold. */
export function tensorDtype(info: TensorInfo): DType | undefined {
  return KERNEL_DTYPES.find((d) => d === info.dtype);
}

function firstLine(s: string): string {
  return s.split("\n")[0]!.trim();
}
