/**
 * The OrtApi function table. `OrtGetApiBase()->GetApi(30)` gives a table of 426 function pointers
 * (slot numbers: /work/shared/reference/ort-c-api.md, section 10); each function we use is listed
 * once below and bound on first use.
 */
import { native, type NativeFunctions, type Pointer } from "../native/index.ts";
import { findLibrary, ortLibrarySearch } from "../libs.ts";
import { OrtError } from "./errors.ts";

const ORT_API_VERSION = 30;
const [i32, u32, u64, ptr, cstring, none] = ["i32", "u32", "u64", "ptr", "cstring", "void"] as const;

/** Slot, argument types and return type of every OrtApi function this binding calls. */
const SIGNATURES = {
  CreateStatus: { slot: 0, args: [i32, cstring], returns: ptr },
  GetErrorCode: { slot: 1, args: [ptr], returns: i32 },
  GetErrorMessage: { slot: 2, args: [ptr], returns: ptr },
  CreateEnv: { slot: 3, args: [i32, cstring, ptr], returns: ptr },
  CreateSession: { slot: 7, args: [ptr, ptr, ptr, ptr], returns: ptr },
  CreateSessionFromArray: { slot: 8, args: [ptr, ptr, u64, ptr, ptr], returns: ptr },
  Run: { slot: 9, args: [ptr, ptr, ptr, ptr, u64, ptr, u64, ptr], returns: ptr },
  CreateSessionOptions: { slot: 10, args: [ptr], returns: ptr },
  SetSessionExecutionMode: { slot: 13, args: [ptr, i32], returns: ptr },
  EnableMemPattern: { slot: 16, args: [ptr], returns: ptr },
  DisableMemPattern: { slot: 17, args: [ptr], returns: ptr },
  EnableCpuMemArena: { slot: 18, args: [ptr], returns: ptr },
  DisableCpuMemArena: { slot: 19, args: [ptr], returns: ptr },
  SetSessionGraphOptimizationLevel: { slot: 23, args: [ptr, i32], returns: ptr },
  SetIntraOpNumThreads: { slot: 24, args: [ptr, i32], returns: ptr },
  SetInterOpNumThreads: { slot: 25, args: [ptr, i32], returns: ptr },
  SessionGetInputCount: { slot: 30, args: [ptr, ptr], returns: ptr },
  SessionGetOutputCount: { slot: 31, args: [ptr, ptr], returns: ptr },
  SessionGetInputTypeInfo: { slot: 33, args: [ptr, u64, ptr], returns: ptr },
  SessionGetOutputTypeInfo: { slot: 34, args: [ptr, u64, ptr], returns: ptr },
  SessionGetInputName: { slot: 36, args: [ptr, u64, ptr, ptr], returns: ptr },
  SessionGetOutputName: { slot: 37, args: [ptr, u64, ptr, ptr], returns: ptr },
  CreateTensorWithDataAsOrtValue: { slot: 49, args: [ptr, ptr, u64, ptr, u64, i32, ptr], returns: ptr },
  IsTensor: { slot: 50, args: [ptr, ptr], returns: ptr },
  GetTensorMutableData: { slot: 51, args: [ptr, ptr], returns: ptr },
  CastTypeInfoToTensorInfo: { slot: 55, args: [ptr, ptr], returns: ptr },
  GetOnnxTypeFromTypeInfo: { slot: 56, args: [ptr, ptr], returns: ptr },
  GetTensorElementType: { slot: 60, args: [ptr, ptr], returns: ptr },
  GetDimensionsCount: { slot: 61, args: [ptr, ptr], returns: ptr },
  GetDimensions: { slot: 62, args: [ptr, ptr, u64], returns: ptr },
  GetSymbolicDimensions: { slot: 63, args: [ptr, ptr, u64], returns: ptr },
  CreateMemoryInfo: { slot: 68, args: [cstring, i32, i32, i32, ptr], returns: ptr },
  CreateCpuMemoryInfo: { slot: 69, args: [i32, i32, ptr], returns: ptr },
  MemoryInfoGetName: { slot: 71, args: [ptr, ptr], returns: ptr },
  MemoryInfoGetId: { slot: 72, args: [ptr, ptr], returns: ptr },
  AllocatorAlloc: { slot: 75, args: [ptr, u64, ptr], returns: ptr },
  AllocatorFree: { slot: 76, args: [ptr, ptr], returns: ptr },
  GetAllocatorWithDefaultOptions: { slot: 78, args: [ptr], returns: ptr },
  ReleaseStatus: { slot: 93, args: [ptr], returns: none },
  ReleaseMemoryInfo: { slot: 94, args: [ptr], returns: none },
  ReleaseSession: { slot: 95, args: [ptr], returns: none },
  ReleaseValue: { slot: 96, args: [ptr], returns: none },
  ReleaseTypeInfo: { slot: 98, args: [ptr], returns: none },
  ReleaseSessionOptions: { slot: 100, args: [ptr], returns: none },
  CreateEnvWithGlobalThreadPools: { slot: 119, args: [i32, cstring, ptr, ptr], returns: ptr },
  DisablePerSessionThreads: { slot: 120, args: [ptr], returns: ptr },
  CreateThreadingOptions: { slot: 121, args: [ptr], returns: ptr },
  ReleaseThreadingOptions: { slot: 122, args: [ptr], returns: none },
  AddFreeDimensionOverrideByName: { slot: 124, args: [ptr, cstring, u64], returns: ptr },
  GetAvailableProviders: { slot: 125, args: [ptr, ptr], returns: ptr },
  ReleaseAvailableProviders: { slot: 126, args: [ptr, i32], returns: ptr },
  AddSessionConfigEntry: { slot: 130, args: [ptr, cstring, cstring], returns: ptr },
  RunWithBinding: { slot: 133, args: [ptr, ptr, ptr], returns: ptr },
  CreateIoBinding: { slot: 134, args: [ptr, ptr], returns: ptr },
  ReleaseIoBinding: { slot: 135, args: [ptr], returns: none },
  BindInput: { slot: 136, args: [ptr, ptr, ptr], returns: ptr },
  BindOutput: { slot: 137, args: [ptr, ptr, ptr], returns: ptr },
  BindOutputToDevice: { slot: 138, args: [ptr, ptr, ptr], returns: ptr },
  GetBoundOutputNames: { slot: 139, args: [ptr, ptr, ptr, ptr, ptr], returns: ptr },
  GetBoundOutputValues: { slot: 140, args: [ptr, ptr, ptr, ptr], returns: ptr },
  ClearBoundInputs: { slot: 141, args: [ptr], returns: none },
  ClearBoundOutputs: { slot: 142, args: [ptr], returns: none },
  CreateAndRegisterAllocator: { slot: 144, args: [ptr, ptr, ptr], returns: ptr },
  SetGlobalIntraOpNumThreads: { slot: 147, args: [ptr, i32], returns: ptr },
  SetGlobalSpinControl: { slot: 149, args: [ptr, i32], returns: ptr },
  GetTensorMemoryInfo: { slot: 194, args: [ptr, ptr], returns: ptr },
  SynchronizeBoundOutputs: { slot: 203, args: [ptr], returns: ptr },
  SessionOptionsAppendExecutionProvider_CUDA_V2: { slot: 204, args: [ptr, ptr], returns: ptr },
  CreateCUDAProviderOptions: { slot: 205, args: [ptr], returns: ptr },
  UpdateCUDAProviderOptions: { slot: 206, args: [ptr, ptr, ptr, u64], returns: ptr },
  ReleaseCUDAProviderOptions: { slot: 208, args: [ptr], returns: none },
  MemoryInfoGetDeviceType: { slot: 225, args: [ptr, ptr], returns: none },
  UpdateCUDAProviderOptionsWithValue: { slot: 263, args: [ptr, cstring, ptr], returns: ptr },
  GetTensorElementTypeAndShapeDataReference: { slot: 414, args: [ptr, ptr, ptr, ptr], returns: ptr },
} as const;

type Signatures = typeof SIGNATURES;
/** Every bound OrtApi function, typed from SIGNATURES. */
export type OrtApi = NativeFunctions<{ [K in keyof Signatures]: Omit<Signatures[K], "slot"> }>;

interface Loaded {
  readonly table: number;
  readonly version: string;
  readonly path: string;
  readonly api: OrtApi;
}

let loaded: Loaded | undefined;

/** Loads ONNX Runtime on first use (see ffi/libs.ts for where it is looked for). */
function load(): Loaded {
  if (loaded) return loaded;
  const found = findLibrary(ortLibrarySearch());
  if (!("path" in found)) throw new OrtError(1, found.reason);
  const lib = native.open(found.path, { OrtGetApiBase: { args: [], returns: ptr } });
  const base = lib.symbols.OrtGetApiBase();
  if (!base) throw new OrtError(1, `OrtGetApiBase returned NULL in ${found.path}`);
  const getApi = native.fn(native.read.ptr(base, 0), { args: [u32], returns: ptr });
  const getVersionString = native.fn(native.read.ptr(base, 8), { args: [], returns: cstring });
  const version = String(getVersionString());
  const table = Number(getApi(ORT_API_VERSION) ?? 0);
  if (!table) {
    throw new OrtError(
      1,
      `${found.path} is ONNX Runtime ${version}, which lacks API version ${ORT_API_VERSION}; use 1.${ORT_API_VERSION}.0 or newer`,
    );
  }
  loaded = { table, version, path: found.path, api: lazyApi(table) };
  return loaded;
}

/** An object whose properties bind their slot on first access and then stay plain values. */
function lazyApi(table: number): OrtApi {
  const api = {} as OrtApi;
  for (const name of Object.keys(SIGNATURES) as (keyof Signatures)[]) {
    Object.defineProperty(api, name, {
      configurable: true,
      enumerable: true,
      get() {
        const { slot, args, returns } = SIGNATURES[name];
        const bound = native.fn(native.read.ptr(table, slot * 8), { args, returns });
        Object.defineProperty(api, name, { value: bound, enumerable: true });
        return bound;
      },
    });
  }
  return api;
}

/** The OrtApi functions, loading the library if needed. */
export function ortApi(): OrtApi {
  return load().api;
}

/** The loaded library's version string, e.g. "1.30.0". */
export function ortVersion(): string {
  return load().version;
}

/** Path of the loaded ONNX Runtime library. */
export function ortLibraryPath(): string {
  return load().path;
}

/** Reads a NUL-terminated UTF-8 string at `p` (empty for NULL). */
export function readCString(p: Pointer | null | bigint): string {
  const n = Number(p ?? 0);
  return n ? native.cString(n) : "";
}
