import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { cudaOrdinal, parseDevice } from "../../../pipelines/runtime/backend.ts";

const root = join(import.meta.dir, "../../..");

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
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith(".ts") && !path.endsWith(join("runtime", "backend.ts"))) {
          const text = readFileSync(path, "utf8");
          if (/\^cuda|device\.slice\(|\.slice\(5\)|startsWith\("cuda/.test(text)) offenders.push(relative(root, path));
        }
      }
    };
    for (const dir of ["pipelines", "recipes", "bin", "ffi"]) walk(join(root, dir));
    expect(offenders).toEqual([]);
  });
});
