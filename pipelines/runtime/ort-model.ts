import { readFileSync } from "node:fs";
import { IoBinding, MemoryInfo, OrtError, Session, setThreadSpinning, type TensorInfo, Value } from "../../ffi/ort/index.ts";
import type { DType } from "../../kernels/signature.ts";
import { ModelError } from "../errors.ts";
import type { Backend } from "./backend.ts";
import { Tensor } from "./tensor.ts";
import { timing } from "./timing.ts";

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
}

/**
 * One ONNX model bound to a device. Inputs and outputs are our Tensors: the caller allocates the
 * outputs (their shapes are known from the inputs in every SD model) and ORT writes straight into
 * them, so nothing is copied on the CPU and nothing leaves the GPU on CUDA.
 */
export class OrtModel implements Disposable {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly #binding: IoBinding;
  readonly #memoryInfo: MemoryInfo | undefined;

  private constructor(
    readonly path: string,
    readonly backend: Backend,
    readonly session: Session,
  ) {
    this.inputs = session.inputs;
    this.outputs = session.outputs;
    this.#binding = new IoBinding(session);
    this.#memoryInfo = backend.device === "cpu" ? undefined : MemoryInfo.cuda(Number(backend.device.slice(5)));
  }

  /** Loads `path` (external data next to it is found by ORT). A bad file is a ModelError naming it. */
  static load(path: string, backend: Backend, options: OrtModelOptions = {}): OrtModel {
    try {
      const source = options.externalDataDir === undefined ? path : new Uint8Array(readFileSync(path));
      const session = Session.create(source, {
        ...(options.threads === undefined ? { sharedThreadPool: true } : { intraOpThreads: options.threads }),
        graphOptimization: "all",
        ...(options.externalDataDir === undefined ? {} : { externalDataDir: options.externalDataDir }),
        ...(options.config ? { config: options.config } : {}),
        ...(backend.device === "cpu"
          ? {}
          : { cuda: { deviceId: Number(backend.device.slice(5)), stream: backend.stream } }),
      });
      return new OrtModel(path, backend, session);
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
    const values: Value[] = [];
    const binding = this.#binding;
    try {
      for (const [name, tensor] of Object.entries(feeds)) {
        const v = this.#value(tensor);
        values.push(v);
        binding.bindInput(name, v);
      }
      for (const [name, tensor] of Object.entries(outputs)) {
        const v = this.#value(tensor);
        values.push(v);
        binding.bindOutput(name, v);
      }
      this.#runBound();
    } catch (e) {
      if (e instanceof OrtError) throw new ModelError(`${this.path}: ${firstLine(e.message)}`);
      throw e;
    } finally {
      binding.clear();
      for (const v of values) v.dispose();
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
    this.#binding.dispose();
    this.#memoryInfo?.dispose();
    this.session.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Runs what is bound, waits for device outputs, and counts the time for benchmarks. */
  #runBound(): void {
    const t0 = timing.enabled ? Bun.nanoseconds() : 0;
    this.#binding.run();
    if (this.#memoryInfo) this.#binding.synchronizeOutputs();
    if (timing.enabled) {
      timing.ortNs += Bun.nanoseconds() - t0;
      timing.ortCalls++;
    }
  }

  #value(t: Tensor): Value {
    t.assertLive();
    if (t.backend !== this.backend) {
      throw new Error(`${this.path}: a tensor on ${t.device} was given to a model on ${this.backend.device}`);
    }
    if (t.storage.kind === "cpu") return Value.fromTypedArray(t.dtype, t.shape, t.hostView() as never);
    return Value.fromDevicePointer(this.#memoryInfo!, t.storage.pointer + t.byteOffset, t.byteLength, t.shape, t.dtype);
  }
}

/** Our dtype for an ONNX input/output, or undefined for types our tensors cannot hold. */
export function tensorDtype(info: TensorInfo): DType | undefined {
  return (["f32", "f16", "i32", "i64", "u8"] as const).find((d) => d === info.dtype);
}

function firstLine(s: string): string {
  return s.split("\n")[0]!.trim();
}
