import type { Pointer } from "../native/index.ts";
import { ortApi } from "./api.ts";
import { registerSharedCpuArena } from "./env.ts";
import { OrtError, OrtErrorCode } from "./errors.ts";
import { check } from "./status.ts";
import { NativeBuffer, outSlot, PointerTable, readOutPointer } from "./native-memory.ts";

export const GRAPH_OPTIMIZATION_LEVELS = { disable: 0, basic: 1, extended: 2, layout: 3, all: 99 } as const;
export type GraphOptimization = keyof typeof GRAPH_OPTIMIZATION_LEVELS;
export const EXECUTION_MODES = { sequential: 0, parallel: 1 } as const;
export type ExecutionMode = keyof typeof EXECUTION_MODES;

/** CUDA execution provider settings (provider options V2). */
export interface CudaProviderOptions {
  /** GPU ordinal; default 0. */
  readonly deviceId?: number;
  /** A `cudaStream_t` for ORT to run on, so ORT and our kernels share one stream. */
  readonly stream?: number | bigint;
  /** Further provider keys as strings (`arena_extend_strategy`, `cudnn_conv_algo_search`, …). */
  readonly options?: Readonly<Record<string, string>>;
}

/** How a Session is set up. Everything is optional; unset means ORT's default. */
export interface SessionOptions {
  /** Threads inside one operator; 0 = one per physical core. Ignored with sharedThreadPool. */
  readonly intraOpThreads?: number;
  /** Run on the Env's process-wide thread pool instead of a pool of this session's own. */
  readonly sharedThreadPool?: boolean;
  /** Threads across operators (only used with executionMode "parallel"). */
  readonly interOpThreads?: number;
  readonly graphOptimization?: GraphOptimization;
  readonly executionMode?: ExecutionMode;
  /** Pins symbolic dimensions, e.g. `{ batch: 2 }`, so more of the graph has static shapes. */
  readonly freeDimensions?: Readonly<Record<string, number>>;
  /** Session config entries (`session.intra_op.allow_spinning`: "0", …). */
  readonly config?: Readonly<Record<string, string>>;
  readonly memPattern?: boolean;
  readonly cpuArena?: boolean;
  /**
   * Take CPU memory from the one arena registered on the Env, shared by every session that
   * asks for it, instead of an arena of this session's own (see env.ts registerSharedCpuArena).
   */
  readonly sharedCpuArena?: boolean;
  /** Appends the CUDA execution provider (the CPU provider always stays as fallback). */
  readonly cuda?: CudaProviderOptions;
  /** Folder holding external-data files when the model is given as bytes. */
  readonly externalDataDir?: string;
}

const released = new FinalizationRegistry<Pointer>((p) => ortApi().ReleaseSessionOptions(p));

/** An OrtSessionOptions built from SessionOptions; released once the session exists. */
export class NativeSessionOptions implements Disposable {
  #ptr: Pointer;
  private constructor(p: Pointer) {
    this.#ptr = p;
    released.register(this, p, this);
  }

  static create(options: SessionOptions = {}): NativeSessionOptions {
    const api = ortApi();
    check(api.CreateSessionOptions(outSlot()));
    const so = new NativeSessionOptions(readOutPointer());
    try {
      so.#apply(options);
    } catch (error) {
      so.dispose();
      throw error;
    }
    return so;
  }

  get ptr(): Pointer {
    if (!this.#ptr) throw new Error("NativeSessionOptions used after dispose()");
    return this.#ptr;
  }

  #apply(o: SessionOptions): void {
    const api = ortApi();
    const so = this.ptr;
    if (o.sharedThreadPool) check(api.DisablePerSessionThreads(so));
    else if (o.intraOpThreads !== undefined) check(api.SetIntraOpNumThreads(so, threadCount("intraOpThreads", o.intraOpThreads)));
    if (o.interOpThreads !== undefined) check(api.SetInterOpNumThreads(so, threadCount("interOpThreads", o.interOpThreads)));
    if (o.graphOptimization !== undefined) {
      check(api.SetSessionGraphOptimizationLevel(so, choice("graphOptimization", o.graphOptimization, GRAPH_OPTIMIZATION_LEVELS)));
    }
    if (o.executionMode !== undefined) {
      check(api.SetSessionExecutionMode(so, choice("executionMode", o.executionMode, EXECUTION_MODES)));
    }
    if (o.memPattern !== undefined) check(o.memPattern ? api.EnableMemPattern(so) : api.DisableMemPattern(so));
    if (o.cpuArena !== undefined) check(o.cpuArena ? api.EnableCpuMemArena(so) : api.DisableCpuMemArena(so));
    for (const [name, value] of Object.entries(o.freeDimensions ?? {})) {
      if (!Number.isInteger(value) || value < 0) {
        throw invalid(`freeDimensions.${name} must be a non-negative integer, got ${value}`);
      }
      check(api.AddFreeDimensionOverrideByName(so, name, value));
    }
    if (o.sharedCpuArena) {
      registerSharedCpuArena();
      check(api.AddSessionConfigEntry(so, "session.use_env_allocators", "1"));
    }
    for (const [key, value] of Object.entries(o.config ?? {})) check(api.AddSessionConfigEntry(so, key, String(value)));
    if (o.externalDataDir !== undefined) {
      check(api.AddSessionConfigEntry(so, "session.model_external_initializers_file_folder_path", o.externalDataDir));
    }
    if (o.cuda) this.#appendCuda(o.cuda);
  }

  /**
   * Provider options V2: create, set string keys, optionally the raw stream pointer, append,
   * release. Without the CUDA provider libraries next to libonnxruntime, ORT fails at the key
   * update with "Failed to load library …providers_shared…", which we pass on unchanged.
   */
  #appendCuda(cuda: CudaProviderOptions): void {
    const api = ortApi();
    const entries: [string, string][] = [["device_id", String(cuda.deviceId ?? 0)]];
    for (const [key, value] of Object.entries(cuda.options ?? {})) entries.push([key, String(value)]);
    check(api.CreateCUDAProviderOptions(outSlot()));
    const cudaOptions = readOutPointer();
    const strings: NativeBuffer[] = [];
    try {
      using keys = new PointerTable(entries.length);
      using values = new PointerTable(entries.length);
      entries.forEach(([key, value], i) => {
        const k = NativeBuffer.cString(key);
        const v = NativeBuffer.cString(value);
        strings.push(k, v);
        keys.set(i, k.ptr);
        values.set(i, v.ptr);
      });
      check(api.UpdateCUDAProviderOptions(cudaOptions, keys.ptr, values.ptr, entries.length));
      if (cuda.stream !== undefined && cuda.stream !== 0 && cuda.stream !== 0n) {
        check(api.UpdateCUDAProviderOptionsWithValue(cudaOptions, "user_compute_stream", BigInt(cuda.stream)));
      }
      check(api.SessionOptionsAppendExecutionProvider_CUDA_V2(this.ptr, cudaOptions));
    } finally {
      for (const s of strings) s.dispose();
      api.ReleaseCUDAProviderOptions(cudaOptions);
    }
  }

  dispose(): void {
    if (!this.#ptr) return;
    released.unregister(this);
    ortApi().ReleaseSessionOptions(this.#ptr);
    this.#ptr = 0 as Pointer;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function invalid(message: string): OrtError {
  return new OrtError(OrtErrorCode.INVALID_ARGUMENT, message);
}

function threadCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw invalid(`${name} must be a non-negative integer (0 = ORT default), got ${value}`);
  return value;
}

function choice(name: string, value: string, table: Readonly<Record<string, number>>): number {
  const level = Object.hasOwn(table, value) ? table[value] : undefined;
  if (level === undefined) throw invalid(`${name} "${value}" is not one of ${Object.keys(table).join(", ")}`);
  return level;
}
