/** OrtErrorCode names by value (onnxruntime_error_code.h). */
export const CODE_NAMES = [
  "ORT_OK",
  "ORT_FAIL",
  "ORT_INVALID_ARGUMENT",
  "ORT_NO_SUCHFILE",
  "ORT_NO_MODEL",
  "ORT_ENGINE_ERROR",
  "ORT_RUNTIME_EXCEPTION",
  "ORT_INVALID_PROTOBUF",
  "ORT_MODEL_LOADED",
  "ORT_NOT_IMPLEMENTED",
  "ORT_INVALID_GRAPH",
  "ORT_EP_FAIL",
  "ORT_MODEL_LOAD_CANCELED",
  "ORT_MODEL_REQUIRES_COMPILATION",
  "ORT_NOT_FOUND",
  "ORT_DEVICE_RESET",
] as const;

export type OrtErrorCodeName = (typeof CODE_NAMES)[number] | `ORT_ERROR_${number}`;

/** Numeric OrtErrorCode for a name, for code that raises ORT-style errors itself. */
export const OrtErrorCode = {
  FAIL: 1,
  INVALID_ARGUMENT: 2,
  NO_SUCHFILE: 3,
  INVALID_PROTOBUF: 7,
  NOT_IMPLEMENTED: 9,
} as const;

/**
 * An error reported by ONNX Runtime (message is ORT's own), or a misuse of this binding caught
 * before it reached ORT (then with the code ORT would have used).
 */
export class OrtError extends Error {
  readonly codeName: OrtErrorCodeName;
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "OrtError";
    this.codeName = CODE_NAMES[code] ?? `ORT_ERROR_${code}`;
  }
}
