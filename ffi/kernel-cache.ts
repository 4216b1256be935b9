import { createHash } from "node:crypto";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "./cache-dir.ts";

/**
 * The one on-disk cache of compiled kernels, for both backends: CPU shared objects and PTX lie
 * side by side in `<cache>/kernels/`, named `<family>.<backend>-<key>.<so|ptx>`, and every key
 * comes from `kernelCacheKey`. Bump KERNEL_CACHE_VERSION when what a cached file means changes
 * without its inputs changing (a new launcher calling convention, say), so old files are not reused.
 */
export const KERNEL_CACHE_VERSION = 1;

/** Everything that shapes a compiled kernel file. */
export interface KernelBuild {
  readonly backend: "cpu" | "cuda";
  /** The exact text the compiler reads (prelude, the family's source, generated launchers). */
  readonly source: string;
  /** Which compiler, as precisely as it says: `cc gcc (Debian 12.2.0-14) 12.2.0`, `nvrtc 12.4`. */
  readonly compiler: string;
  readonly flags: readonly string[];
  /** The target: `compute_86`; on the CPU the ISA and processor model (flags say -march=native). */
  readonly arch: string;
}

/** sha256 hex of the cache version and every part of the build. */
export function kernelCacheKey(build: KernelBuild, version = KERNEL_CACHE_VERSION): string {
  const hash = createHash("sha256");
  const fields = [String(version), build.backend, build.source, build.compiler, JSON.stringify(build.flags), build.arch];
  // Length-prefixed, so text moved from one field into the next still changes the key.
  for (const field of fields) hash.update(`${field.length}:`).update(field);
  return hash.digest("hex");
}

/** Where the compiled file of `family` (a kernels/ file stem) for this build lives. */
export function kernelCacheFile(family: string, build: KernelBuild): string {
  const extension = build.backend === "cpu" ? "so" : "ptx";
  return join(kernelCacheDir(), `${family}.${build.backend}-${kernelCacheKey(build).slice(0, 32)}.${extension}`);
}

/** `<cache>/kernels`, created on first use; also where compilers' scratch files go. */
export function kernelCacheDir(): string {
  return cacheDir("kernels");
}

/** Writes under a temporary name, then renames: a concurrent reader never sees half a file. */
export function writeCacheFile(file: string, data: string | Uint8Array): void {
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, data);
  renameSync(partial, file);
}
