/**
 * Session: one loaded model. Run is the hot path of cut UNets (many small Runs), so everything a
 * Run needs that does not change between calls (input/output name tables in native memory, the
 * value tables, the bound Run function) is built once when the session is created.
 */
import type { Pointer } from "../native/index.ts";
import { ortApi, readCString } from "./api.ts";
import { type Dtype, DTYPES, elementTypeName, isDtype } from "./dtype.ts";
import { ortEnv, type OrtLogLevel } from "./env.ts";
import { OrtError, OrtErrorCode } from "./errors.ts";
import { check } from "./status.ts";
import { freeOrtAllocated, NativeBuffer, ortAllocator, outSlot, PointerTable, readOutInt32, readOutNumber, readOutPointer } from "./native-memory.ts";
import { NativeSessionOptions, type SessionOptions } from "./session-options.ts";
import { Value } from "./value.ts";

/** One model input or output. */
export interface TensorInfo {
  readonly name: string;
  /** "f32", "f16", … for tensors ("f64" etc. for types Values cannot hold); "sequence", "map", … otherwise. */
  readonly dtype: string;
  /** Dimensions, -1 where the model leaves one open. */
  readonly dims: readonly number[];
  /** Symbolic name of each dimension ("batch"), "" where it has none. */
  readonly dimNames: readonly string[];
}

export interface SessionCreateOptions extends SessionOptions {
  /** Log level of the process-wide Env; only the first session created decides it. */
  readonly logLevel?: OrtLogLevel;
}

type Feeds = Readonly<Record<string, Value>>;

/** An output whose dtype and every dimension are known before running. */
interface StaticOutput {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly count: number;
}

const ONNX_TYPES = ["unknown", "tensor", "sequence", "map", "opaque", "sparse-tensor", "optional"];
const released = new FinalizationRegistry<Pointer>((p) => ortApi().ReleaseSession(p));
const isWindows = process.platform === "win32";

export class Session implements Disposable {
  #handle: Pointer;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly #inputNames: readonly string[];
  readonly #outputNames: readonly string[];
  readonly #outputIndex: ReadonlyMap<string, number>;
  /** Native copies of every input and output name; their addresses fill the tables below. */
  readonly #names: NativeBuffer[];
  readonly #inputNamePtrs: Pointer[];
  readonly #outputNamePtrs: Pointer[];
  readonly #runInNames: PointerTable;
  readonly #runInValues: PointerTable;
  readonly #allOutNames: PointerTable;
  readonly #pickedOutNames: PointerTable;
  readonly #runOutValues: PointerTable;
  readonly #run = ortApi().Run;
  /**
   * Per output, its fixed dtype and shape when the model pins them. Such outputs are allocated
   * by us in JS memory and filled by ORT in place: cheaper than letting ORT allocate and then
   * viewing its memory, and the result is an ordinary typed array.
   */
  #staticOutputs: (StaticOutput | undefined)[];
  #allOutputsStatic: boolean;

  private constructor(handle: Pointer) {
    this.#handle = handle;
    released.register(this, handle, this);
    this.inputs = readTensorInfos(handle, "input");
    this.outputs = readTensorInfos(handle, "output");
    this.#inputNames = this.inputs.map((t) => t.name);
    this.#outputNames = this.outputs.map((t) => t.name);
    this.#outputIndex = new Map(this.outputs.map((t, i) => [t.name, i]));
    const inNames = this.inputs.map((t) => NativeBuffer.cString(t.name));
    const outNames = this.outputs.map((t) => NativeBuffer.cString(t.name));
    this.#names = [...inNames, ...outNames];
    this.#inputNamePtrs = inNames.map((b) => b.ptr);
    this.#outputNamePtrs = outNames.map((b) => b.ptr);
    this.#runInNames = new PointerTable(this.inputs.length);
    this.#runInValues = new PointerTable(this.inputs.length);
    this.#allOutNames = new PointerTable(this.outputs.length);
    this.#pickedOutNames = new PointerTable(this.outputs.length);
    this.#runOutValues = new PointerTable(this.outputs.length);
    this.#outputNamePtrs.forEach((p, i) => this.#allOutNames.set(i, p));
    this.#staticOutputs = this.outputs.map(staticOutput);
    this.#allOutputsStatic = this.#staticOutputs.every((s) => s !== undefined);
  }

  /**
   * Loads a model from a file path (external-data files are found next to it) or from the bytes
   * of an .onnx file (set `externalDataDir` if its weights live in separate files).
   */
  static create(model: string | Uint8Array, options: SessionCreateOptions = {}): Session {
    const api = ortApi();
    const env = ortEnv(options.logLevel);
    using so = NativeSessionOptions.create(options);
    if (typeof model === "string") {
      using path = isWindows ? utf16Path(model) : NativeBuffer.cString(model);
      check(api.CreateSession(env, path.ptr, so.ptr, outSlot()));
    } else {
      if (!(model instanceof Uint8Array)) {
        throw new OrtError(OrtErrorCode.INVALID_ARGUMENT, "Session.create: model must be a file path or a Uint8Array of .onnx bytes");
      }
      // ORT parses the bytes during the call and keeps nothing, so the JS array may move afterwards.
      check(api.CreateSessionFromArray(env, model, model.byteLength, so.ptr, outSlot()));
    }
    return new Session(readOutPointer());
  }

  /** The OrtSession*; throws once disposed. */
  get handle(): Pointer {
    if (!this.#handle) throw new OrtError(OrtErrorCode.INVALID_ARGUMENT, "Session used after dispose()");
    return this.#handle;
  }

  get disposed(): boolean {
    return this.#handle === 0;
  }

  /** Native address of an input's name, or undefined for names the model does not have. @internal */
  inputNamePointer(name: string): Pointer | undefined {
    const i = this.#inputNames.indexOf(name);
    return i < 0 ? undefined : this.#inputNamePtrs[i];
  }

  /** Native address of an output's name, or undefined. @internal */
  outputNamePointer(name: string): Pointer | undefined {
    const i = this.#outputIndex.get(name);
    return i === undefined ? undefined : this.#outputNamePtrs[i];
  }

  /**
   * Runs the model. `feeds` maps input names to Values; the result maps each requested output
   * (all of them by default) to a new Value on the host, which the caller disposes.
   */
  run(feeds: Feeds, outputNames?: readonly string[]): Record<string, Value> {
    const handle = this.handle;
    const fed = this.#bindFeeds(feeds);
    let given = 0;
    for (const _ in feeds) given++;
    if (given !== fed) return this.#runWithUnknownNames(feeds, outputNames);

    let outNames = this.#allOutNames;
    let outCount = this.outputs.length;
    let preallocate = this.#allOutputsStatic;
    if (outputNames !== undefined) {
      outCount = outputNames.length;
      if (outCount > this.outputs.length) return this.#runWithUnknownNames(feeds, outputNames);
      preallocate = true;
      for (let i = 0; i < outCount; i++) {
        const index = this.#outputIndex.get(outputNames[i] as string);
        if (index === undefined) return this.#runWithUnknownNames(feeds, outputNames);
        this.#pickedOutNames.set(i, this.#outputNamePtrs[index] as Pointer);
        if (this.#staticOutputs[index] === undefined) preallocate = false;
      }
      outNames = this.#pickedOutNames;
    }
    const picked = outputNames ?? this.#outputNames;
    const outValues = this.#runOutValues;
    const result: Record<string, Value> = {};
    if (preallocate) {
      for (let i = 0; i < outCount; i++) {
        const name = picked[i] as string;
        const spec = this.#staticOutputs[this.#outputIndex.get(name) as number] as StaticOutput;
        const info = DTYPES[spec.dtype];
        const data = new info.array(new ArrayBuffer(spec.count * info.bytes), 0, spec.count);
        const value = Value.fromTypedArray(spec.dtype, spec.shape, data);
        result[name] = value;
        outValues.set(i, value.handle);
      }
    } else {
      outValues.clear(outCount);
    }
    const status = this.#run(handle, null, this.#runInNames.ptr, this.#runInValues.ptr, fed, outNames.ptr, outCount, outValues.ptr);
    if (status) {
      if (!preallocate) check(status);
      for (const name in result) result[name]?.dispose();
      try {
        check(status);
      } catch {
        // Exporters sometimes declare output shapes the graph does not produce, which ORT only
        // objects to when we preallocate. Retry with ORT-allocated outputs; if that works, keep
        // it that way for this session; if not, the error is the input's, reported plainly.
        const [saved, savedAll] = [this.#staticOutputs, this.#allOutputsStatic];
        this.#staticOutputs = saved.map(() => undefined);
        this.#allOutputsStatic = false;
        try {
          return this.run(feeds, outputNames);
        } catch (error) {
          [this.#staticOutputs, this.#allOutputsStatic] = [saved, savedAll];
          throw error;
        }
      }
    }
    if (!preallocate) for (let i = 0; i < outCount; i++) result[picked[i] as string] = Value.adopt(outValues.get(i), true);
    return result;
  }

  /**
   * Runs the model writing into existing Values (same names, dtypes and shapes as the outputs
   * will have) instead of allocating new ones: the fast path for fixed-shape loops.
   */
  runInto(feeds: Feeds, outputs: Readonly<Record<string, Value>>): void {
    const handle = this.handle;
    const names = this.#inputNames;
    const fed = this.#bindFeeds(feeds);
    let given = 0;
    for (const _ in feeds) given++;
    let outCount = 0;
    for (const name in outputs) {
      const index = this.#outputIndex.get(name);
      const value = outputs[name];
      if (index === undefined || outCount >= this.outputs.length) {
        throw new OrtError(OrtErrorCode.INVALID_ARGUMENT, `runInto: "${name}" is not an output; outputs are ${this.#outputNames.join(", ")}`);
      }
      if (!(value instanceof Value)) throw notAValue(name, value);
      this.#pickedOutNames.set(outCount, this.#outputNamePtrs[index] as Pointer);
      this.#runOutValues.set(outCount, value.handle);
      outCount++;
    }
    if (given !== fed) {
      const unknown = Object.keys(feeds).filter((k) => !names.includes(k));
      throw new OrtError(OrtErrorCode.INVALID_ARGUMENT, `runInto: unknown input ${unknown.join(", ")}; inputs are ${names.join(", ")}`);
    }
    const status = this.#run(handle, null, this.#runInNames.ptr, this.#runInValues.ptr, fed, this.#pickedOutNames.ptr, outCount, this.#runOutValues.ptr);
    if (status) check(status);
  }

  /** Fills the Run input tables from `feeds` in model order; returns how many were bound. */
  #bindFeeds(feeds: Feeds): number {
    const names = this.#inputNames;
    let fed = 0;
    for (let i = 0; i < names.length; i++) {
      const value = feeds[names[i] as string];
      if (value === undefined) continue;
      if (!(value instanceof Value)) throw notAValue(names[i] as string, value);
      this.#runInNames.set(fed, this.#inputNamePtrs[i] as Pointer);
      this.#runInValues.set(fed, value.handle);
      fed++;
    }
    return fed;
  }

  /**
   * The slow path for feeds or output names the model does not know: pass them to ORT as given,
   * in temporary native tables, so the error is ORT's own ("Invalid input name: …").
   */
  #runWithUnknownNames(feeds: Feeds, outputNames: readonly string[] | undefined): Record<string, Value> {
    const feedEntries = Object.entries(feeds);
    const outs = outputNames ?? this.outputs.map((t) => t.name);
    const strings: NativeBuffer[] = [];
    const native = (name: string) => {
      const b = NativeBuffer.cString(name);
      strings.push(b);
      return b.ptr;
    };
    using inNames = new PointerTable(feedEntries.length);
    using inValues = new PointerTable(feedEntries.length);
    using outNames = new PointerTable(outs.length);
    using outValues = new PointerTable(outs.length);
    try {
      feedEntries.forEach(([name, value], i) => {
        if (!(value instanceof Value)) throw notAValue(name, value);
        inNames.set(i, native(name));
        inValues.set(i, value.handle);
      });
      outs.forEach((name, i) => outNames.set(i, native(name)));
      check(this.#run(this.handle, null, inNames.ptr, inValues.ptr, feedEntries.length, outNames.ptr, outs.length, outValues.ptr));
    } finally {
      for (const s of strings) s.dispose();
    }
    const result: Record<string, Value> = {};
    outs.forEach((name, i) => (result[name] = Value.adopt(outValues.get(i), true)));
    return result;
  }

  dispose(): void {
    if (!this.#handle) return;
    released.unregister(this);
    ortApi().ReleaseSession(this.#handle);
    this.#handle = 0 as Pointer;
    for (const b of this.#names) b.dispose();
    for (const t of [this.#runInNames, this.#runInValues, this.#allOutNames, this.#pickedOutNames, this.#runOutValues]) t.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function staticOutput(info: TensorInfo): StaticOutput | undefined {
  if (!isDtype(info.dtype) || info.dims.some((d) => d < 0)) return undefined;
  return { dtype: info.dtype, shape: info.dims, count: info.dims.reduce((a, b) => a * b, 1) };
}

function notAValue(name: string, value: unknown): OrtError {
  const what = value === null ? "null" : ((value as object)?.constructor?.name ?? typeof value);
  return new OrtError(OrtErrorCode.INVALID_ARGUMENT, `feed "${name}" must be a Value (Value.fromTypedArray), got ${what}`);
}

function utf16Path(path: string): NativeBuffer {
  const buffer = NativeBuffer.alloc((path.length + 1) * 2);
  const units = new Uint16Array(buffer.bytes().buffer, 0, path.length + 1);
  for (let i = 0; i < path.length; i++) units[i] = path.charCodeAt(i);
  return buffer;
}

function readTensorInfos(session: Pointer, kind: "input" | "output"): TensorInfo[] {
  const api = ortApi();
  const [getCount, getName, getTypeInfo] =
    kind === "input"
      ? [api.SessionGetInputCount, api.SessionGetInputName, api.SessionGetInputTypeInfo]
      : [api.SessionGetOutputCount, api.SessionGetOutputName, api.SessionGetOutputTypeInfo];
  check(getCount(session, outSlot()));
  const count = readOutNumber();
  const infos: TensorInfo[] = [];
  for (let i = 0; i < count; i++) {
    check(getName(session, i, ortAllocator(), outSlot()));
    const namePtr = readOutPointer();
    const name = readCString(namePtr);
    freeOrtAllocated(namePtr);
    check(getTypeInfo(session, i, outSlot()));
    const typeInfo = readOutPointer();
    try {
      infos.push({ name, ...readTypeInfo(typeInfo) });
    } finally {
      api.ReleaseTypeInfo(typeInfo);
    }
  }
  return infos;
}

function readTypeInfo(typeInfo: Pointer): Omit<TensorInfo, "name"> {
  const api = ortApi();
  check(api.GetOnnxTypeFromTypeInfo(typeInfo, outSlot()));
  const onnxType = readOutInt32();
  if (onnxType !== 1) return { dtype: ONNX_TYPES[onnxType] ?? "unknown", dims: [], dimNames: [] };
  check(api.CastTypeInfoToTensorInfo(typeInfo, outSlot()));
  const tensorInfo = readOutPointer(); // owned by typeInfo
  check(api.GetTensorElementType(tensorInfo, outSlot()));
  const dtype = elementTypeName(readOutInt32());
  check(api.GetDimensionsCount(tensorInfo, outSlot()));
  const rank = readOutNumber();
  const dims = new BigInt64Array(rank);
  const symbols = new BigUint64Array(rank);
  if (rank > 0) {
    check(api.GetDimensions(tensorInfo, dims, rank));
    check(api.GetSymbolicDimensions(tensorInfo, symbols, rank));
  }
  return {
    dtype,
    dims: Object.freeze(Array.from(dims, Number)),
    dimNames: Object.freeze(Array.from(symbols, (p) => readCString(p))),
  };
}
