import { describe, expect, test } from "bun:test";
import { cudaOrdinal, parseDevice } from "../../../pipelines/runtime/backend.ts";
import { sourcesMatching } from "../../source-tree.ts";

describe("parseDevice: the one reading of a device string", () => {
  test.each([
    ["cpu", "cpu", null],
    ["cuda", "cuda:0", 0],
    ["cuda:0", "cuda:0", 0],
    ["cuda:3", "cuda:3", 3],
    ["cuda:12", "cuda:12", 12],
  ] as const)("%s is %s", (spec, name, ordinal) => {
    expect(parseDevice(spec)).toEqual({ name, cudaOrdinal: ordinal });
  });

  test.each(["", "CPU", "gpu", "cuda:", "cuda:-1", "cuda:1.5", "cuda0", " cpu", "cuda:0 ", "auto", "cuda:x"])("%p is not a device", (spec) => {
    expect(parseDevice(spec)).toBeUndefined();
  });

  test("cudaOrdinal reads N of cuda:N and refuses cpu", () => {
    expect(cudaOrdinal("cuda:2")).toBe(2);
    expect(() => cudaOrdinal("cpu")).toThrow(/"cpu" is not a CUDA device/);
  });

  test("no other source file reads device strings itself", () => {
    const offenders = sourcesMatching(/\^cuda|device\.slice\(|\.slice\(5\)|startsWith\("cuda/, "pipelines/runtime/backend.ts");
    expect(offenders).toEqual([]);
  });
});
