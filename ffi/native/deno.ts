/**
 * The FFI interface on Deno. Pointer arguments and results cross as `usize` so that addresses
 * stay plain numbers, as on Bun; JS memory passed where a pointer goes is turned into its
 * address for the call, and a NULL result becomes `null`, which is what bun:ffi gives.
 */
import type { Native, NativeFunction, NativeLibrary, NativeSignature, NativeType, Pointer } from "./types.ts";

type DenoPointer = object | null;
interface DenoForeign {
  parameters: string[];
  result: string;
}
interface DenoFfi {
  dlopen(path: string, symbols: Record<string, DenoForeign>): { symbols: Record<string, (...a: unknown[]) => unknown>; close(): void };
  UnsafePointer: {
    create(value: bigint): DenoPointer;
    of(memory: ArrayBufferView | ArrayBuffer): DenoPointer;
    value(pointer: DenoPointer): bigint | number;
  };
  UnsafePointerView: {
    new (pointer: object): {
      getInt32(offset?: number): number;
      getUint32(offset?: number): number;
      getBigInt64(offset?: number): bigint;
      getBigUint64(offset?: number): bigint;
      getFloat32(offset?: number): number;
    };
    getArrayBuffer(pointer: object, byteLength: number, offset?: number): ArrayBuffer;
    getCString(pointer: object, offset?: number): string;
  };
  UnsafeFnPointer: new (pointer: object, definition: DenoForeign) => { call(...a: unknown[]): unknown };
}

const Deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;

const utf8 = new TextEncoder();

const DENO_TYPES: Record<NativeType, string> = {
  i8: "i8", u8: "u8", i16: "i16", u16: "u16", i32: "i32", u32: "u32", i64: "i64", u64: "u64",
  f32: "f32", f64: "f64", bool: "bool", ptr: "usize", cstring: "usize", void: "void",
};

function pointerObject(address: number | bigint): object {
  const p = Deno.UnsafePointer.create(BigInt(address));
  if (!p) throw new TypeError("native memory read at address 0 (NULL)");
  return p;
}

function addressOf(memory: ArrayBufferView | ArrayBuffer, byteOffset = 0): Pointer {
  return (Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(memory))) + byteOffset) as Pointer;
}

function toAddress(value: unknown): number | bigint {
  if (value == null) return 0;
  if (typeof value === "number" || typeof value === "bigint") return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength ? addressOf(value) : 0;
  throw new TypeError(`a pointer argument must be an address or a typed array, not ${typeof value}`);
}

function fromResult(type: NativeType, value: unknown): unknown {
  switch (type) {
    case "ptr":
      return Number(value) || null;
    case "cstring":
      return Number(value) ? Deno.UnsafePointerView.getCString(pointerObject(value as bigint)) : "";
    case "i64":
    case "u64":
      return BigInt(value as number | bigint);
    case "void":
      return undefined;
    default:
      return value;
  }
}

function foreign(signature: NativeSignature): DenoForeign {
  return { parameters: signature.args.map((t) => DENO_TYPES[t]), result: DENO_TYPES[signature.returns] };
}

/** Wraps a raw Deno call with the argument and result conversions its signature needs, and no others. */
function adapt<S extends NativeSignature>(call: (...a: unknown[]) => unknown, signature: S): NativeFunction<S> {
  const pointerArgs = signature.args.flatMap((t, i) => (t === "ptr" || t === "cstring" ? [i] : []));
  const stringArgs = signature.args.flatMap((t, i) => (t === "cstring" ? [i] : []));
  const returns = signature.returns;
  const plainResult = !["ptr", "cstring", "i64", "u64", "void"].includes(returns);
  return ((...args: unknown[]) => {
    const passed = args.slice();
    for (const i of stringArgs) if (typeof args[i] === "string") args[i] = utf8.encode(`${args[i]}\0`);
    for (const i of pointerArgs) passed[i] = toAddress(args[i]);
    const result = call(...passed);
    // `args` holds the memory whose addresses went in (encoded strings too) until the call is over.
    args.length = 0;
    return plainResult ? result : fromResult(returns, result);
  }) as NativeFunction<S>;
}

export const denoNative: Native = {
  runtime: "deno",
  open<D extends Record<string, NativeSignature>>(path: string, symbols: D): NativeLibrary<D> {
    const definitions = Object.fromEntries(Object.entries(symbols).map(([name, s]) => [name, foreign(s)]));
    const lib = Deno.dlopen(path, definitions);
    const bound = Object.fromEntries(Object.entries(symbols).map(([name, s]) => [name, adapt(lib.symbols[name]!, s)]));
    return { symbols: bound as NativeLibrary<D>["symbols"], close: () => lib.close() };
  },
  fn(address, signature) {
    const pointer = new Deno.UnsafeFnPointer(pointerObject(address), foreign(signature));
    return adapt((...a) => pointer.call(...a), signature);
  },
  addressOf,
  bytesAt: (address, byteOffset, byteLength) => Deno.UnsafePointerView.getArrayBuffer(pointerObject(address), byteLength, byteOffset),
  cString: (address) => Deno.UnsafePointerView.getCString(pointerObject(address)),
  read: {
    ptr: (address, offset = 0) => Number(new Deno.UnsafePointerView(pointerObject(address)).getBigUint64(offset)) as Pointer,
    i32: (address, offset = 0) => new Deno.UnsafePointerView(pointerObject(address)).getInt32(offset),
    u32: (address, offset = 0) => new Deno.UnsafePointerView(pointerObject(address)).getUint32(offset),
    i64: (address, offset = 0) => new Deno.UnsafePointerView(pointerObject(address)).getBigInt64(offset),
    u64: (address, offset = 0) => new Deno.UnsafePointerView(pointerObject(address)).getBigUint64(offset),
    f32: (address, offset = 0) => new Deno.UnsafePointerView(pointerObject(address)).getFloat32(offset),
  },
};
