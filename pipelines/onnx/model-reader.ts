import { onnx } from "onnx-proto";
import { ModelError } from "../errors.ts";
import { type AnyOnnxArray, tensorData } from "./tensor-proto.ts";

/** Decodes ModelProto bytes; a malformed file is a ModelError naming `source`. */
export function readModel(bytes: Uint8Array, source = "model bytes"): onnx.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new ModelError(`${source} is not an ONNX model: ${(error as Error).message}`);
  }
}

/** Looks up an initializer by name and decodes its data (external data read from `externalDir`). */
export function initializerData(model: onnx.IModelProto, name: string, externalDir?: string): AnyOnnxArray {
  const tensor = model.graph?.initializer?.find((t) => t.name === name);
  if (!tensor) throw new ModelError(`initializer "${name}" is not in graph "${model.graph?.name ?? ""}"`);
  return tensorData(tensor, externalDir);
}

/** The opset version a model imports for `domain` ("" = default ONNX domain), if any. */
export function opsetVersion(model: onnx.IModelProto, domain = ""): number | undefined {
  const entry = model.opsetImport?.find((o) => (o.domain ?? "") === domain);
  return entry?.version === undefined || entry.version === null ? undefined : Number(entry.version);
}
