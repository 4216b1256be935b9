/**
 * The FFI interface on Bun: bun:ffi almost as it is, so binding through it costs nothing more
 * than calling bun:ffi directly.
 */
import { cc, CString, dlopen, linkSymbols, ptr, read, toArrayBuffer, type FFIFunction, type Pointer as BunPointer } from "bun:ffi";
import type { Native, NativeLibrary, NativeSignature, Pointer } from "./types.ts";

type BunSymbols = Record<string, FFIFunction>;

export const bunNative: Native = {
  runtime: "bun",
  open<D extends Record<string, NativeSignature>>(path: string, symbols: D) {
    return dlopen(path, symbols as unknown as BunSymbols) as unknown as NativeLibrary<D>;
  },
  fn(address, signature) {
    const linked = linkSymbols({ f: { ptr: address as BunPointer, args: [...signature.args], returns: signature.returns } });
    return linked.symbols.f as never;
  },
  addressOf: (memory, byteOffset) => ptr(memory as ArrayBuffer, byteOffset) as number as Pointer,
  bytesAt: (address, byteOffset, byteLength) => toArrayBuffer(address as BunPointer, byteOffset, byteLength),
  cString: (address) => new CString(address as BunPointer).toString(),
  read: read as never,
  compileC<D extends Record<string, NativeSignature>>(sourcePath: string, symbols: D) {
    return cc({ source: sourcePath, symbols: symbols as unknown as BunSymbols }) as unknown as NativeLibrary<D>;
  },
};
