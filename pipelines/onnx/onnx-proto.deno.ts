/**
 * onnx-proto for Deno (deno.json maps the package here). Its CommonJS build sets `$root.onnx`,
 * which Deno's export scan cannot see, so `import { onnx } from "onnx-proto"` finds nothing there;
 * required, the module gives the same object Bun imports.
 */
import { createRequire } from "node:module";
import type * as OnnxProto from "onnx-proto";

export const onnx: typeof OnnxProto.onnx = createRequire(import.meta.url)("onnx-proto").onnx;
