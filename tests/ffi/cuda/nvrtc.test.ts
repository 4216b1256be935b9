import { describe, expect, test } from "bun:test";
import { CudaUnavailable } from "../../../ffi/cuda/errors.ts";
import { nvrtcAvailability, nvrtcOptions, pickArch } from "../../../ffi/cuda/nvrtc.ts";

describe("nvrtcOptions", () => {
  test("asks for PTX of the virtual architecture, device-default functions and C++17", () => {
    expect(nvrtcOptions(86)).toEqual(["--gpu-architecture=compute_86", "-default-device", "--std=c++17"]);
  });
  test("appends extra options last, so they can override", () => {
    expect(nvrtcOptions(90, ["-lineinfo"]).at(-1)).toBe("-lineinfo");
  });
});

describe("pickArch", () => {
  const cuda13 = [75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121];
  test("uses the device's own architecture when NVRTC knows it", () => {
    expect(pickArch(86, cuda13)).toBe(86);
  });
  test("falls back to the newest older architecture for a GPU newer than NVRTC", () => {
    expect(pickArch(130, cuda13)).toBe(121);
    expect(pickArch(101, [75, 80, 90, 100])).toBe(100);
  });
  test("trusts the device when NVRTC cannot list its architectures (before 11.2)", () => {
    expect(pickArch(61, undefined)).toBe(61);
  });
  test("refuses a GPU older than every supported architecture, naming both", () => {
    expect(() => pickArch(61, cuda13)).toThrow(CudaUnavailable);
    expect(() => pickArch(61, cuda13)).toThrow("GPU compute capability 6.1 is older than any this NVRTC supports (oldest 7.5)");
  });
});

describe("nvrtcAvailability", () => {
  test("answers without throwing", () => {
    const status = nvrtcAvailability();
    if (status.ok) expect(status.version.major).toBeGreaterThanOrEqual(11);
    else expect(status.reason).toMatch(/NVRTC|LATENTLOOM_NVRTC_LIB/);
  });
});
