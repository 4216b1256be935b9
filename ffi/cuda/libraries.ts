import { existsSync, readdirSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { native, type NativeLibrary, type NativeSignature } from "../native/index.ts";

/**
 * Where libcuda and libnvrtc are looked for. Self-contained on purpose: ffi/libs.ts will grow a
 * shared finder, and these two searches can move onto it once it settles.
 *
 * An environment variable wins outright: when it is set, that file is used or we say why it
 * cannot be, rather than quietly falling back to a library the user did not ask for.
 */
export interface CudaLibrarySearch {
  /** For messages: "libcuda", "NVRTC". */
  readonly name: string;
  readonly envVar: string;
  /** Tried in order. Absolute paths must exist; bare names go to the system loader. */
  readonly candidates: readonly string[];
  /** Added to "not found" messages: what to install. */
  readonly advice: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** libcuda: `LATENTLOOM_CUDA_LIB`, then the loader's libcuda.so.1 / libcuda.so (nvcuda.dll on Windows). */
export function cudaDriverSearch(env: Env = process.env, platform: string = process.platform): CudaLibrarySearch {
  const candidates =
    platform === "win32"
      ? ["nvcuda.dll"]
      : platform === "linux"
        ? // WSL keeps the driver outside the loader's default path on some setups.
          ["libcuda.so.1", "libcuda.so", "/usr/lib/wsl/lib/libcuda.so.1"]
        : [];
  return {
    name: "libcuda",
    envVar: "LATENTLOOM_CUDA_LIB",
    candidates,
    advice: platform === "darwin" ? "CUDA does not run on macOS" : "install the NVIDIA driver",
  };
}

/**
 * NVRTC: `LATENTLOOM_NVRTC_LIB`, then versioned libraries in `$CUDA_HOME` / `$CUDA_PATH` /
 * /usr/local/cuda (newest first), then names the system loader may know.
 */
export function nvrtcSearch(
  env: Env = process.env,
  platform: string = process.platform,
  listDir: (dir: string) => readonly string[] = listIfPresent,
): CudaLibrarySearch {
  const roots = [env.CUDA_HOME, env.CUDA_PATH, platform === "win32" ? undefined : "/usr/local/cuda"].filter(
    (root): root is string => !!root,
  );
  const candidates: string[] = [];
  if (platform === "win32") {
    for (const root of roots) {
      for (const dir of [join(root, "bin"), join(root, "bin", "x64")]) {
        candidates.push(...newestFirst(listDir(dir), /^nvrtc64_(\d+)(?:_0)?\.dll$/).map((f) => join(dir, f)));
      }
    }
    candidates.push("nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll");
  } else if (platform === "linux") {
    for (const root of roots) {
      const dir = join(root, "lib64");
      candidates.push(...newestFirst(listDir(dir), /^libnvrtc\.so((?:\.\d+)*)$/).map((f) => join(dir, f)));
    }
    candidates.push("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so");
  }
  return {
    name: "NVRTC",
    envVar: "LATENTLOOM_NVRTC_LIB",
    candidates: [...new Set(candidates)],
    advice: platform === "darwin" ? "CUDA does not run on macOS" : "install the CUDA toolkit's NVRTC (libnvrtc)",
  };
}

/** File names matching `pattern`, highest version (numbers captured by group 1) first. */
function newestFirst(files: readonly string[], pattern: RegExp): string[] {
  const version = (file: string): number[] =>
    (pattern.exec(file)?.[1] ?? "").split(".").filter(Boolean).map(Number);
  return files
    .filter((f) => pattern.test(f))
    .sort((a, b) => {
      const va = version(a);
      const vb = version(b);
      for (let i = 0; i < Math.max(va.length, vb.length); i++) {
        const d = (vb[i] ?? -1) - (va[i] ?? -1);
        if (d !== 0) return d;
      }
      return a < b ? -1 : 1;
    });
}

function listIfPresent(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export type OpenedLibrary<Fns extends Record<string, NativeSignature>> =
  | { readonly ok: true; readonly library: NativeLibrary<Fns>; readonly path: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Opens the first library of `search` that loads and exports every symbol in `symbols`.
 * Never throws: a library that cannot be used gives a reason.
 */
export function openCudaLibrary<Fns extends Record<string, NativeSignature>>(
  search: CudaLibrarySearch,
  symbols: Fns,
  env: Env = process.env,
): OpenedLibrary<Fns> {
  const explicit = env[search.envVar];
  if (explicit) {
    if (isAbsolute(explicit) && !existsSync(explicit)) {
      return { ok: false, reason: `${search.envVar}=${explicit} does not exist; point it at a ${search.name} library file` };
    }
    try {
      return { ok: true, library: native.open(explicit, symbols), path: explicit };
    } catch (e) {
      return { ok: false, reason: `${search.envVar}=${explicit} could not be loaded: ${firstLine(e)}` };
    }
  }
  const failures: string[] = [];
  for (const candidate of search.candidates) {
    if (isAbsolute(candidate) && !existsSync(candidate)) continue;
    try {
      return { ok: true, library: native.open(candidate, symbols), path: candidate };
    } catch (e) {
      const why = firstLine(e);
      // A library that exists but lacks a symbol is worth naming; "cannot open" for every guess is noise.
      if (isAbsolute(candidate) || !/failed to open library|cannot open shared object|no such file|could not be found/i.test(why)) {
        failures.push(`${candidate}: ${why}`);
      }
    }
  }
  const tried = search.candidates.length ? search.candidates.join(", ") : "nothing on this platform";
  const found = failures.length ? `; found but unusable: ${failures.join("; ")}` : "";
  return {
    ok: false,
    reason: `${search.name} not found (tried ${tried})${found}; ${search.advice} or set ${search.envVar} to its path`,
  };
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split("\n")[0] ?? "";
}
