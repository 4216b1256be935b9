import { describe, expect, test } from "bun:test";
import { cudaReadiness, openDevice } from "../../../pipelines/runtime/device.ts";
import { UsageError } from "../../../pipelines/errors.ts";

describe("openDevice", () => {
  test("cpu gives the shared CPU backend", () => {
    const a = openDevice("cpu");
    expect(a.backend.device).toBe("cpu");
    expect(openDevice().backend).toBe(a.backend);
  });

  test("auto explains its pick", () => {
    const choice = openDevice("auto");
    const cuda = cudaReadiness();
    expect(choice.backend.device).toBe(cuda.ok ? "cuda:0" : "cpu");
    expect(choice.reason).toMatch(cuda.ok ? /picked cuda:0/ : /picked cpu because .+/);
  });

  test("an unknown device is a usage error listing the choices", () => {
    expect(() => openDevice("gpu")).toThrow(UsageError);
    expect(() => openDevice("gpu")).toThrow('unknown device "gpu"; valid: cpu, cuda, cuda:N, auto');
  });

  const cudaHere = cudaReadiness().ok;
  if (cudaHere) console.warn("device test: skipping the no-CUDA error case, this machine has CUDA");
  test.skipIf(cudaHere)("cuda:0 without CUDA throws CUDA unavailable", () => {
    expect(() => openDevice("cuda:0")).toThrow(/CUDA unavailable: /);
  });
});
