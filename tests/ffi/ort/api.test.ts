import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { findLibrary, ortLibrarySearch } from "../../../ffi/libs.ts";
import { ortApi } from "../../../ffi/ort/api.ts";
import { check } from "../../../ffi/ort/status.ts";
import { availableProviders, OrtError, ortLibraryPath, ortVersion } from "../../../ffi/ort/index.ts";

describe("the ONNX Runtime library", () => {
  test("loads from onnxruntime-node's package and reports version 1.30.x", () => {
    expect(ortVersion()).toMatch(/^1\.(3\d|[4-9]\d)\.\d+$/);
    expect(existsSync(ortLibraryPath())).toBe(true);
  });

  test("lists the CPU execution provider last", () => {
    expect(availableProviders().at(-1)).toBe("CPUExecutionProvider");
  });
});

describe("findLibrary", () => {
  const search = { name: "Example", envVar: "LATENTLOOM_TEST_LIB", candidates: ["/nonexistent/libx.so", ortLibraryPath()] };

  test("takes the first candidate that exists", () => {
    delete process.env.LATENTLOOM_TEST_LIB;
    expect(findLibrary(search)).toEqual({ path: ortLibraryPath(), source: "known location" });
  });

  test("prefers the environment variable and reports it missing instead of falling back", () => {
    process.env.LATENTLOOM_TEST_LIB = "/nonexistent/override.so";
    try {
      expect(findLibrary(search)).toEqual({
        reason: "LATENTLOOM_TEST_LIB=/nonexistent/override.so does not exist; point it at a Example library file",
      });
    } finally {
      delete process.env.LATENTLOOM_TEST_LIB;
    }
  });

  test("says what it tried when nothing is found", () => {
    const found = findLibrary({ name: "Nothing", envVar: "LATENTLOOM_TEST_LIB", candidates: ["/nonexistent/a.so"] });
    expect(found).toEqual({ reason: "Nothing library not found (tried /nonexistent/a.so); set LATENTLOOM_TEST_LIB to its path" });
  });

  test.skipIf(process.platform !== "linux")("asks the system loader about bare file names", () => {
    const libc = { name: "libc", envVar: "LATENTLOOM_TEST_LIB", candidates: ["libnothing-here.so.9", "libc.so.6"], probeSymbol: "malloc" };
    expect(() => findLibrary({ ...libc, probeSymbol: undefined })).toThrow(/needs probeSymbol/);
    expect(findLibrary(libc)).toEqual({
      path: "libc.so.6",
      source: "system loader path",
    });
  });

  test("the ORT search looks in onnxruntime-node's bin folder for this platform", () => {
    const s = ortLibrarySearch();
    expect(s.envVar).toBe("LATENTLOOM_ORT_LIB");
    expect(s.candidates.some((c) => c.includes(`napi-v6/${process.platform}/${process.arch}`))).toBe(true);
  });
});

describe("check", () => {
  test("does nothing for a NULL status", () => {
    expect(() => check(null)).not.toThrow();
  });

  test("throws ORT's code, code name and message, and releases the status", () => {
    const status = ortApi().CreateStatus(2, "boom: bad thing");
    let caught: unknown;
    try {
      check(status);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(OrtError);
    const e = caught as OrtError;
    expect([e.code, e.codeName, e.message, e.name]).toEqual([2, "ORT_INVALID_ARGUMENT", "boom: bad thing", "OrtError"]);
  });

  test("names codes newer than this binding generically", () => {
    expect(new OrtError(99, "x").codeName).toBe("ORT_ERROR_99");
    expect(new OrtError(7, "x").codeName).toBe("ORT_INVALID_PROTOBUF");
  });
});
