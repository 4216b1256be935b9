/**
 * The one interface between our bindings and the JavaScript runtime's FFI. Bun (`bun:ffi`) and
 * Deno (`Deno.dlopen`) each implement it in their own file; nothing else names either. Addresses
 * are plain numbers on both runtimes (user-space pointers fit in 53 bits), so `ffi/ort` and
 * `ffi/cuda` keep their pointer arithmetic and out-slot reads unchanged.
 */

/** C argument and return types, named as bun:ffi names them. */
export type NativeType =
  | "i8" | "u8" | "i16" | "u16" | "i32" | "u32" | "i64" | "u64" | "f32" | "f64" | "bool" | "ptr" | "cstring" | "void";

export interface NativeSignature {
  readonly args: readonly NativeType[];
  readonly returns: NativeType;
}

/** A native address. Branded so that a size is not passed where an address belongs by accident. */
export type Pointer = number & { readonly __pointer__: null };

/**
 * What a pointer argument accepts: an address, NULL, or JS memory whose address is taken for the call.
 * A `cstring` argument also takes a JS string, passed NUL-terminated.
 */
export type PointerArg = Pointer | number | bigint | ArrayBufferView | null;

type ArgOf<T extends NativeType> = T extends "ptr"
  ? PointerArg
  : T extends "cstring"
    ? PointerArg | string
  : T extends "i64" | "u64"
    ? number | bigint
    : T extends "bool"
      ? boolean
      : number;

type ReturnOf<T extends NativeType> = T extends "ptr"
  ? Pointer | null
  : T extends "cstring"
    ? { toString(): string }
    : T extends "i64" | "u64"
      ? bigint
      : T extends "bool"
        ? boolean
        : T extends "void"
          ? undefined
          : number;

type ArgsOf<T extends readonly NativeType[]> = { -readonly [I in keyof T]: ArgOf<T[I]> };

export type NativeFunction<S extends NativeSignature> = (...args: ArgsOf<S["args"]>) => ReturnOf<S["returns"]>;

export type NativeFunctions<D extends Record<string, NativeSignature>> = { [K in keyof D]: NativeFunction<D[K]> };

export interface NativeLibrary<D extends Record<string, NativeSignature>> {
  readonly symbols: NativeFunctions<D>;
  close(): void;
}

/** Reads of native memory at `address + byteOffset`. */
export interface NativeReads {
  ptr(address: number, byteOffset?: number): Pointer;
  i32(address: number, byteOffset?: number): number;
  u32(address: number, byteOffset?: number): number;
  i64(address: number, byteOffset?: number): bigint;
  u64(address: number, byteOffset?: number): bigint;
  f32(address: number, byteOffset?: number): number;
}

export interface Native {
  /** "bun" or "deno", for messages and the cache key. */
  readonly runtime: string;
  /** Opens a shared library and binds `symbols`; throws when the file or a symbol is missing. */
  open<D extends Record<string, NativeSignature>>(path: string, symbols: D): NativeLibrary<D>;
  /** Binds a function pointer (a slot of ORT's API table) to a signature. */
  fn<S extends NativeSignature>(address: number, signature: S): NativeFunction<S>;
  /** Address of JS memory, valid while nothing can move it (no allocation before the call). */
  addressOf(memory: ArrayBufferView | ArrayBuffer, byteOffset?: number): Pointer;
  /** The native bytes at `address` as an ArrayBuffer (a view, not a copy). */
  bytesAt(address: number, byteOffset: number, byteLength: number): ArrayBuffer;
  /** The NUL-terminated UTF-8 string at `address`. */
  cString(address: number): string;
  readonly read: NativeReads;
  /**
   * Compiles C source in memory and binds `symbols` (Bun's TinyCC), or undefined where the
   * runtime has no built-in compiler.
   */
  readonly compileC?: <D extends Record<string, NativeSignature>>(sourcePath: string, symbols: D) => NativeLibrary<D>;
}
