import type { Pointer } from "../native/index.ts";
import { ortApi, readCString } from "./api.ts";
import { CODE_NAMES, OrtError } from "./errors.ts";

/** Throws the OrtError that `status` describes (after releasing it); does nothing for NULL. */
export function check(status: Pointer | bigint | null): void {
  if (status) throwStatus(status);
}

function throwStatus(status: Pointer | bigint): never {
  const api = ortApi();
  const st = status as Pointer;
  const code = api.GetErrorCode(st);
  const message = readCString(api.GetErrorMessage(st));
  api.ReleaseStatus(st);
  throw new OrtError(code, message || `ONNX Runtime failed with ${CODE_NAMES[code] ?? code}`);
}
