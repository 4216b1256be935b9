/**
 * ONNX Runtime through the runtime's FFI (ffi/native): the one ORT seam. Above this folder nobody sees a slot.
 *
 *   using session = Session.create("unet/model.onnx", { intraOpThreads: 1 });
 *   using x = Value.fromTypedArray("f32", [1, 4], new Float32Array(4));
 *   const { y } = session.run({ x });
 *   console.log(y.shape, y.data); y.dispose();
 */
import { ortApi, ortVersion as loadedVersion, readCString } from "./api.ts";
import { check } from "./status.ts";
import { outSlot, readOutInt32, readOutPointer } from "./native-memory.ts";
import { native, type Pointer } from "../native/index.ts";

export { ortLibraryPath } from "./api.ts";
export { type AnyDtypeArray, type Dtype, DTYPE_NAMES, type TypedArrayOf } from "./dtype.ts";
export { LOG_LEVELS, type OrtLogLevel, setThreadSpinning } from "./env.ts";
export { OrtError, type OrtErrorCodeName } from "./errors.ts";
export { IoBinding } from "./io-binding.ts";
export { type MemoryDeviceType, MemoryInfo } from "./memory-info.ts";
export { Session, type SessionCreateOptions, type TensorInfo } from "./session.ts";
export type { CudaProviderOptions, ExecutionMode, GraphOptimization, SessionOptions } from "./session-options.ts";
export { Value } from "./value.ts";

/** Version of the loaded ONNX Runtime, e.g. "1.30.0". */
export function ortVersion(): string {
  return loadedVersion();
}

/** Execution providers the loaded ONNX Runtime was built with, e.g. ["CUDAExecutionProvider", "CPUExecutionProvider"]. */
export function availableProviders(): string[] {
  const api = ortApi();
  check(api.GetAvailableProviders(outSlot(0), outSlot(1)));
  const list = readOutPointer(0);
  const count = readOutInt32(1);
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push(readCString(native.read.ptr(list, i * 8)));
  check(api.ReleaseAvailableProviders(list, count));
  return names;
}
