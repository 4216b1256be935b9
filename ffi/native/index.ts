/**
 * The runtime's FFI behind one interface (./types.ts): bun:ffi on Bun, Deno.dlopen on Deno.
 * Each implementation is imported only on its own runtime, so neither sees the other's module.
 */
import type { Native } from "./types.ts";

export type { Native, NativeFunction, NativeFunctions, NativeLibrary, NativeSignature, NativeType, Pointer, PointerArg } from "./types.ts";

export const native: Native =
  "Deno" in globalThis ? (await import("./deno.ts")).denoNative : (await import("./bun.ts")).bunNative;
