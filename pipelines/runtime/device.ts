import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { ortLibraryPath } from "../../ffi/ort/index.ts";
import { CudaUnavailable } from "../../ffi/cuda/errors.ts";
import { LatentloomError, UsageError } from "../errors.ts";
import { type Backend, type DeviceName, parseDevice } from "./backend.ts";
import { CpuBackend } from "./cpu-backend.ts";
import { CudaBackend, cudaBackendAvailability } from "./cuda-backend.ts";

/**
 * Device selection. `cpu`, `cuda:N` (or `cuda` = `cuda:0`), or `auto`, which picks CUDA only when
 * libcuda, NVRTC and a CUDA-enabled ONNX Runtime are all present. Backends are made once per
 * process and shared.
 */

const backends = new Map<DeviceName, Backend>();

export interface DeviceChoice {
  backend: Backend;
  /** Why this device: printed on stderr by recipes for `auto`. */
  reason: string;
}

export function openDevice(spec = "cpu"): DeviceChoice {
  if (spec === "auto") {
    const cuda = cudaReadiness();
    if (cuda.ok) return { backend: backend("cuda:0"), reason: `auto: picked cuda:0 (${cuda.description})` };
    return { backend: backend("cpu"), reason: `auto: picked cpu because ${cuda.reason}` };
  }
  const parsed = parseDevice(spec);
  if (!parsed) throw new UsageError(`unknown device "${spec}"; valid: cpu, cuda, cuda:N, auto`);
  return { backend: backend(parsed.name), reason: `device ${parsed.name} as asked` };
}

function backend(name: DeviceName): Backend {
  let b = backends.get(name);
  if (!b) {
    try {
      b = name === "cpu" ? new CpuBackend() : new CudaBackend(name);
    } catch (e) {
      // A user asked for a GPU this machine can't give: one clear line, not a stack.
      if (e instanceof CudaUnavailable) throw new LatentloomError(e.message, e.hint ?? "use --device cpu or --device auto");
      throw e;
    }
    backends.set(name, b);
  }
  return b;
}

/** CUDA kernels need libcuda + NVRTC + a device; UNets need ONNX Runtime's CUDA provider libraries. */
export function cudaReadiness(): { ok: true; description: string } | { ok: false; reason: string } {
  const kernels = cudaBackendAvailability();
  if (!kernels.ok) return { ok: false, reason: kernels.reason };
  const providers = join(dirname(ortLibraryPath()), "libonnxruntime_providers_cuda.so");
  if (!existsSync(providers)) {
    return {
      ok: false,
      reason: `ONNX Runtime has no CUDA provider (${providers} is missing; set LATENTLOOM_ORT_LIB to a CUDA build)`,
    };
  }
  return kernels;
}
