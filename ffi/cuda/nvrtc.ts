import { native, type Pointer } from "../native/index.ts";
import { CudaUnavailable, KernelCompileError, nvrtcCheck } from "./errors.ts";
import { nvrtcSearch, openCudaLibrary } from "./libraries.ts";

/**
 * NVRTC (runtime CUDA C++ → PTX), as in nvrtc.h. nvrtcResult → i32; nvrtcProgram is a pointer
 * handle; size_t → u64; string arrays are arrays of char pointers.
 */
export const nvrtcSymbols = {
  nvrtcVersion: { args: ["ptr", "ptr"], returns: "i32" },
  nvrtcCreateProgram: { args: ["ptr", "ptr", "ptr", "i32", "ptr", "ptr"], returns: "i32" },
  nvrtcCompileProgram: { args: ["ptr", "i32", "ptr"], returns: "i32" },
  nvrtcGetProgramLogSize: { args: ["ptr", "ptr"], returns: "i32" },
  nvrtcGetProgramLog: { args: ["ptr", "ptr"], returns: "i32" },
  nvrtcGetPTXSize: { args: ["ptr", "ptr"], returns: "i32" },
  nvrtcGetPTX: { args: ["ptr", "ptr"], returns: "i32" },
  nvrtcDestroyProgram: { args: ["ptr"], returns: "i32" },
  nvrtcGetErrorString: { args: ["i32"], returns: "ptr" },
} as const;

/** Since NVRTC 11.2; bound separately so an older NVRTC still loads. */
export const nvrtcArchSymbols = {
  nvrtcGetNumSupportedArchs: { args: ["ptr"], returns: "i32" },
  nvrtcGetSupportedArchs: { args: ["ptr"], returns: "i32" },
} as const;

const NVRTC_ERROR_COMPILATION = 6;

function openNvrtc() {
  const opened = openCudaLibrary(nvrtcSearch(), nvrtcSymbols);
  if (!opened.ok) return opened;
  const archs = openCudaLibrary({ ...nvrtcSearch(), candidates: [opened.path] }, nvrtcArchSymbols, {});
  return { ok: true as const, path: opened.path, rtc: opened.library.symbols, archs: archs.ok ? archs.library.symbols : undefined };
}

let nvrtc: ReturnType<typeof openNvrtc> | undefined;

function library(): Extract<ReturnType<typeof openNvrtc>, { ok: true }> {
  nvrtc ??= openNvrtc();
  if (!nvrtc.ok) throw new CudaUnavailable(nvrtc.reason);
  return nvrtc;
}

/** Whether NVRTC loads; never throws. Opened on first call, never at import. */
export function nvrtcAvailability(): { ok: true; path: string; version: NvrtcVersion } | { ok: false; reason: string } {
  try {
    return { ok: true, path: library().path, version: nvrtcVersion() };
  } catch (e) {
    return { ok: false, reason: e instanceof CudaUnavailable ? e.reason : String(e) };
  }
}

const check = nvrtcCheck((code) => {
  const text = library().rtc.nvrtcGetErrorString(code);
  return text ? native.cString(text) : `nvrtcResult ${code}`;
});

export interface NvrtcVersion {
  readonly major: number;
  readonly minor: number;
}

export function nvrtcVersion(): NvrtcVersion {
  const major = new Int32Array(1);
  const minor = new Int32Array(1);
  check("nvrtcVersion", library().rtc.nvrtcVersion(major, minor));
  return { major: major[0]!, minor: minor[0]! };
}

/** Architectures this NVRTC can target (`[75, 80, 86, …]`), or undefined before NVRTC 11.2. */
export function supportedArchs(): number[] | undefined {
  const archs = library().archs;
  if (!archs) return undefined;
  const count = new Int32Array(1);
  check("nvrtcGetNumSupportedArchs", archs.nvrtcGetNumSupportedArchs(count));
  const list = new Int32Array(Math.max(count[0]!, 1));
  check("nvrtcGetSupportedArchs", archs.nvrtcGetSupportedArchs(list));
  return Array.from(list.subarray(0, count[0]!));
}

/**
 * The virtual architecture to compile for: the device's own when NVRTC knows it, else the
 * newest older one (the driver JIT-compiles PTX forward). Throws for a GPU older than any
 * this NVRTC supports. `device` and the result are compute capabilities as major*10+minor.
 */
export function pickArch(device: number, supported?: readonly number[]): number {
  if (!supported || supported.length === 0 || supported.includes(device)) return device;
  const older = supported.filter((a) => a <= device);
  if (older.length === 0) {
    const oldest = Math.min(...supported);
    throw new CudaUnavailable(
      `GPU compute capability ${archText(device)} is older than any this NVRTC supports (oldest ${archText(oldest)})`,
      "use an older CUDA toolkit's libnvrtc via LATENTLOOM_NVRTC_LIB",
    );
  }
  return Math.max(...older);
}

const archText = (arch: number): string => `${Math.floor(arch / 10)}.${arch % 10}`;

/**
 * NVRTC options for our kernels: PTX for a virtual architecture (the driver finishes it for the
 * exact GPU), functions default to __device__, C++17. `extra` goes last so it can override.
 */
export function nvrtcOptions(arch: number, extra: readonly string[] = []): string[] {
  return [`--gpu-architecture=compute_${arch}`, "-default-device", "--std=c++17", ...extra];
}

/**
 * A `const char* const*` for one call: every string in one buffer, and a table of their
 * addresses written as 32-bit halves. Between addressOf() and the call nothing allocates, so the
 * collector cannot move the strings while C holds their addresses.
 */
function withCStringTable<T>(values: readonly string[], call: (table: Uint32Array) => T): T {
  const encoded = values.map((v) => Buffer.from(`${v}\0`, "utf8"));
  const offsets = encoded.map((_, i) => encoded.slice(0, i).reduce((sum, b) => sum + b.length, 0));
  const joined = Buffer.concat([...encoded, Buffer.alloc(1)]);
  const table = new Uint32Array(Math.max(2 * values.length, 2));
  const base = native.addressOf(joined);
  for (let i = 0; i < values.length; i++) {
    const address = base + offsets[i]!;
    const high = Math.floor(address / 2 ** 32);
    table[2 * i] = address - high * 2 ** 32;
    table[2 * i + 1] = high;
  }
  return call(table);
}

/**
 * Compiles CUDA C++ to PTX. `name` is the file name NVRTC puts in its messages. A compile
 * failure throws KernelCompileError carrying the whole log; other failures throw NvrtcError.
 */
export function compileToPtx(source: string, name: string, options: readonly string[]): string {
  const { rtc } = library();
  const src = Buffer.from(`${source}\0`, "utf8");
  const programName = Buffer.from(`${name}\0`, "utf8");
  const programOut = new BigUint64Array(1);
  check("nvrtcCreateProgram", rtc.nvrtcCreateProgram(programOut, src, programName, 0, null, null));
  const program = Number(programOut[0]) as Pointer;
  try {
    const status = withCStringTable(options, (table) => rtc.nvrtcCompileProgram(program, options.length, table));
    if (status === NVRTC_ERROR_COMPILATION) throw new KernelCompileError(name, programLog(program), options);
    check("nvrtcCompileProgram", status);
    const size = new BigUint64Array(1);
    check("nvrtcGetPTXSize", rtc.nvrtcGetPTXSize(program, size));
    const ptx = new Uint8Array(Number(size[0]));
    check("nvrtcGetPTX", rtc.nvrtcGetPTX(program, ptx));
    return decodeCString(ptx);
  } finally {
    check("nvrtcDestroyProgram", rtc.nvrtcDestroyProgram(programOut));
  }
}

function programLog(program: Pointer): string {
  const { rtc } = library();
  const size = new BigUint64Array(1);
  check("nvrtcGetProgramLogSize", rtc.nvrtcGetProgramLogSize(program, size));
  const log = new Uint8Array(Math.max(Number(size[0]), 1));
  check("nvrtcGetProgramLog", rtc.nvrtcGetProgramLog(program, log));
  return decodeCString(log);
}

/** Text up to the first NUL (the sizes NVRTC reports include the terminator). */
function decodeCString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}
