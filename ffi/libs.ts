import { existsSync, readdirSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { native } from "./native/index.ts";

/**
 * Where to look for one shared library. The environment variable wins outright: when it is set
 * we use that file or report why we cannot, rather than silently falling back to something the
 * user did not ask for.
 */
export interface LibrarySearch {
  /** What the library is, for messages ("ONNX Runtime", "NVRTC"). */
  readonly name: string;
  /** Environment variable holding an explicit path. */
  readonly envVar: string;
  /**
   * Tried in order. An absolute path must exist; a bare file name ("libcuda.so.1") is handed to
   * the system loader, which searches its usual places.
   */
  readonly candidates: readonly string[];
  /** A function the library exports ("cuInit"); required to check bare-name candidates by loading them. */
  readonly probeSymbol?: string;
}

/** A found library (`path`, plus where it came from) or why none was found. */
export type LibraryLookup = { readonly path: string; readonly source: string } | { readonly reason: string };

/** Resolves a library by `search`: env var first, then each candidate in order. */
export function findLibrary(search: LibrarySearch): LibraryLookup {
  const fromEnv = process.env[search.envVar];
  if (fromEnv) {
    if (!existsSync(fromEnv)) {
      return { reason: `${search.envVar}=${fromEnv} does not exist; point it at a ${search.name} library file` };
    }
    return { path: fromEnv, source: search.envVar };
  }
  for (const candidate of search.candidates) {
    if (isAbsolute(candidate) ? existsSync(candidate) : loaderFinds(candidate, search)) {
      return { path: candidate, source: isAbsolute(candidate) ? "known location" : "system loader path" };
    }
  }
  const tried = search.candidates.length ? search.candidates.join(", ") : "no known locations";
  return { reason: `${search.name} library not found (tried ${tried}); set ${search.envVar} to its path` };
}

function loaderFinds(fileName: string, search: LibrarySearch): boolean {
  if (!search.probeSymbol) {
    throw new TypeError(`${search.name}: candidate "${fileName}" is a bare name, which needs probeSymbol to be checked`);
  }
  try {
    // Only the symbol's presence matters; the declared signature is never called.
    native.open(fileName, { [search.probeSymbol]: { args: [], returns: "void" } } as const).close();
    return true;
  } catch {
    return false;
  }
}

/** Where onnxruntime-node keeps its core library, per `process.platform`. */
const ORT_FILE_PATTERNS: Readonly<Record<string, RegExp>> = {
  linux: /^libonnxruntime\.so\.1$/,
  darwin: /^libonnxruntime(\.\d+)*\.dylib$/,
  win32: /^onnxruntime\.dll$/,
};

/** The ONNX Runtime search: `LATENTLOOM_ORT_LIB`, then onnxruntime-node's bundled library. */
export function ortLibrarySearch(): LibrarySearch {
  const candidates: string[] = [];
  const binDir = onnxruntimeNodeBinDir();
  const pattern = ORT_FILE_PATTERNS[process.platform];
  if (binDir && pattern && existsSync(binDir)) {
    for (const file of readdirSync(binDir).sort()) if (pattern.test(file)) candidates.push(join(binDir, file));
  }
  return { name: "ONNX Runtime", envVar: "LATENTLOOM_ORT_LIB", candidates };
}

function onnxruntimeNodeBinDir(): string | undefined {
  try {
    const pkg = fileURLToPath(import.meta.resolve("onnxruntime-node/package.json"));
    return join(dirname(pkg), "bin", "napi-v6", process.platform, process.arch);
  } catch {
    return undefined;
  }
}
