/**
 * The house as DESIGN.md draws it: imports only point down the layers, no file imports itself
 * through others, and the JavaScript runtime (bun:ffi, Bun.*, Deno.*) is named only inside
 * ffi/native and ffi/host. Reads every import of bin/, recipes/, pipelines/, ffi/ and kernels/
 * from the source text (tests and benchmarks may import anything).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const SOURCE_ROOTS = ["core", "bin", "recipes", "pipelines", "ffi", "kernels"];

/** Lower rank = lower layer. A file may import its own layer or any lower one, never a higher one. */
const LAYERS: readonly { name: string; rank: number; match: (path: string) => boolean }[] = [
  { name: "bin", rank: 8, match: (p) => p.startsWith("bin/") },
  { name: "recipes", rank: 7, match: (p) => p.startsWith("recipes/") },
  { name: "cli", rank: 6, match: (p) => p.startsWith("pipelines/cli/") },
  { name: "jobs", rank: 5, match: (p) => JOBS.some((j) => p.startsWith(`pipelines/${j}/`)) },
  { name: "sd", rank: 4, match: (p) => p.startsWith("pipelines/sd/") },
  { name: "onnx", rank: 3, match: (p) => p.startsWith("pipelines/onnx/") },
  { name: "io", rank: 3, match: (p) => p.startsWith("pipelines/io/") },
  { name: "runtime", rank: 2, match: (p) => p.startsWith("pipelines/runtime/") },
  { name: "errors", rank: 1.5, match: (p) => p === "pipelines/errors.ts" },
  { name: "ffi", rank: 1, match: (p) => p.startsWith("ffi/") },
  { name: "kernels", rank: 1, match: (p) => p.startsWith("kernels/") },
  { name: "core", rank: 0, match: (p) => p.startsWith("core/") },
];
const JOBS = ["latent-blending", "attention-interpolation", "stylize", "fifo", "continuation"];

/** Arrows DESIGN.md forbids even where the ranks would allow them. */
const FORBIDDEN: readonly { rule: string; from: (p: string) => boolean; to: (p: string) => boolean }[] = [
  { rule: "onnx and io are peers: neither imports the other", from: isIn("onnx"), to: isIn("io") },
  { rule: "onnx and io are peers: neither imports the other", from: isIn("io"), to: isIn("onnx") },
  { rule: "a job does not import another job (shared code goes down into sd/)", from: isIn("jobs"), to: isIn("jobs") },
  { rule: "ffi and kernels are peers: kernels/ declares, ffi/ compiles and binds", from: isIn("kernels"), to: isIn("ffi") },
  { rule: "ffi and kernels are peers: kernels/ declares, ffi/ compiles and binds", from: isIn("ffi"), to: isIn("kernels") },
  {
    rule: "above the runtime, kernels are called through their family's wrapper (pipelines/runtime/<family>-ops.ts), never launched by name",
    from: (p) => (layerOf(p)?.rank ?? 0) > 2,
    to: (p) => p === "pipelines/runtime/launcher.ts" || (isIn("kernels")(p) && p !== "kernels/signature.ts"),
  },
];

function layerOf(path: string) {
  return LAYERS.find((l) => l.match(path));
}
function isIn(name: string) {
  return (p: string) => layerOf(p)?.name === name;
}
function jobOf(path: string): string | undefined {
  return JOBS.find((j) => path.startsWith(`pipelines/${j}/`));
}

/** Which runtime a file may name: the two implementations of each runtime interface in ffi/. */
function runtimeOf(path: string): "bun" | "deno" | undefined {
  const m = /^ffi\/(?:native|host)\/(bun|deno)\.ts$/.exec(path);
  return m ? (m[1] as "bun" | "deno") : undefined;
}

/** `Bun.x` / `Deno.x` uses in code (comments stripped) that `path` may not make. */
function runtimeGlobalsIn(path: string, text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const allowed = runtimeOf(path);
  return [...code.matchAll(/\b(Bun|Deno)\.[A-Za-z]+/g)]
    .filter((m) => m[1]!.toLowerCase() !== allowed)
    .map((m) => `${path}: ${m[0]}`);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith(".ts") ? [path] : [];
  });
}

/** Specifiers of static imports, re-exports and dynamic imports, comments stripped. */
function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const found: string[] = [];
  for (const m of code.matchAll(/(?:^|[\s;])(?:import|export)\s[^"'`;]*?from\s*["']([^"']+)["']/g)) found.push(m[1]!);
  for (const m of code.matchAll(/(?:^|[\s;])import\s*["']([^"']+)["']/g)) found.push(m[1]!);
  for (const m of code.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) found.push(m[1]!);
  return found;
}

interface Edge {
  from: string;
  to: string;
}

function graph(): { files: string[]; edges: Edge[]; external: { from: string; spec: string }[] } {
  const files = SOURCE_ROOTS.flatMap(sourceFiles);
  const edges: Edge[] = [];
  const external: { from: string; spec: string }[] = [];
  for (const from of files) {
    for (const spec of importsOf(readFileSync(join(ROOT, from), "utf8"))) {
      if (spec.startsWith(".")) edges.push({ from, to: relative(ROOT, resolve(ROOT, dirname(from), spec)) });
      else external.push({ from, spec });
    }
  }
  return { files, edges, external };
}

/** Every cycle a depth-first walk meets, as "a → b → a". */
function cycles(edges: readonly Edge[]): string[] {
  const out = new Map<string, string[]>();
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
  const state = new Map<string, "open" | "done">();
  const found: string[] = [];
  const visit = (node: string, path: string[]) => {
    state.set(node, "open");
    for (const next of out.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...path.slice(path.indexOf(next)), next].join(" → "));
      else if (!state.has(next)) visit(next, [...path, next]);
    }
    state.set(node, "done");
  };
  for (const node of out.keys()) if (!state.has(node)) visit(node, [node]);
  return found;
}

const { files, edges, external } = graph();

describe("the import graph", () => {
  test("is read from the whole tree (the scanner sees the imports it should)", () => {
    expect(files.length).toBeGreaterThan(100);
    // A known arrow: the StableDiffusion class uses the UNet.
    expect(edges).toContainEqual({ from: "pipelines/sd/stable-diffusion.ts", to: "pipelines/sd/unet.ts" });
    expect(importsOf('import { a } from "./x.ts";\nexport * from "./y.ts";\n// import { z } from "./no.ts"\nawait import("./z.ts");')).toEqual(["./x.ts", "./y.ts", "./z.ts"]);
  });

  test("every relative import names a file that exists", () => {
    const known = new Set(files);
    const missing = edges.filter((e) => !known.has(e.to)).map((e) => `${e.from} → ${e.to}`);
    expect(missing).toEqual([]);
  });

  test("every source file belongs to a layer", () => {
    expect(files.filter((f) => !layerOf(f))).toEqual([]);
  });

  test("imports only point down the layers", () => {
    const upward = edges
      .filter((e) => layerOf(e.to) && layerOf(e.from)!.rank < layerOf(e.to)!.rank)
      .map((e) => `${e.from} (${layerOf(e.from)!.name}) → ${e.to} (${layerOf(e.to)!.name})`);
    expect(upward).toEqual([]);
  });

  test("no arrow DESIGN.md forbids", () => {
    const bad = edges.flatMap((e) =>
      FORBIDDEN.filter((r) => r.from(e.from) && r.to(e.to) && !(isIn("jobs")(e.from) && jobOf(e.from) === jobOf(e.to))).map(
        (r) => `${e.from} → ${e.to}: ${r.rule}`,
      ),
    );
    expect(bad).toEqual([]);
  });

  test("only ffi/native and ffi/host know the runtime: bun imports and Bun.*/Deno.* appear in their bun.ts and deno.ts alone", () => {
    const imports = external.filter((x) => /^bun(:|$)/.test(x.spec) && runtimeOf(x.from) !== "bun").map((x) => `${x.from}: ${x.spec}`);
    expect(imports).toEqual([]);
    const globals = files.flatMap((f) => runtimeGlobalsIn(f, readFileSync(join(ROOT, f), "utf8")));
    expect(globals).toEqual([]);
  });

  test("has no cycles between files", () => {
    expect(cycles(edges)).toEqual([]);
  });

  test("has no cycles between layers (a layer that imports a peer is not imported back)", () => {
    const pairs = new Set(edges.filter((e) => layerOf(e.to)).map((e) => `${layerOf(e.from)!.name}>${layerOf(e.to)!.name}`));
    const mutual = [...pairs].filter((p) => {
      const [a, b] = p.split(">");
      return a !== b && pairs.has(`${b}>${a}`);
    });
    expect(mutual).toEqual([]);
  });
});

describe("the rules themselves catch what they should", () => {
  test("an upward arrow, a forbidden peer arrow and a cycle are each found", () => {
    expect(layerOf("pipelines/sd/unet.ts")!.rank).toBeLessThan(layerOf("pipelines/cli/schema.ts")!.rank);
    expect(FORBIDDEN.some((r) => r.from("pipelines/onnx/graph-cut.ts") && r.to("pipelines/io/y4m-reader.ts"))).toBe(true);
    expect(FORBIDDEN.some((r) => r.from("pipelines/fifo/index.ts") && r.to("pipelines/stylize/index.ts"))).toBe(true);
    expect(FORBIDDEN.some((r) => r.from("pipelines/sd/inpaint.ts") && r.to("kernels/mask.ts"))).toBe(true);
    expect(FORBIDDEN.some((r) => r.from("pipelines/stylize/index.ts") && r.to("pipelines/runtime/launcher.ts"))).toBe(true);
    expect(FORBIDDEN.some((r) => r.from("pipelines/runtime/mask-ops.ts") && r.to("kernels/mask.ts"))).toBe(false);
    expect(layerOf("pipelines/errors.ts")!.rank).toBeLessThan(layerOf("pipelines/runtime/tensor.ts")!.rank);
    expect(layerOf("pipelines/errors.ts")!.rank).toBeGreaterThan(layerOf("ffi/libs.ts")!.rank);
    expect(runtimeGlobalsIn("pipelines/io/ffmpeg.ts", 'const p = Bun.spawn(x); // Deno.Command')).toEqual(["pipelines/io/ffmpeg.ts: Bun.spawn"]);
    expect(runtimeGlobalsIn("ffi/host/deno.ts", "new Deno.Command(c); Bun.which(c)")).toEqual(["ffi/host/deno.ts: Bun.which"]);
    expect(runtimeOf("ffi/native/bun.ts")).toBe("bun");
    expect(runtimeOf("ffi/ort/api.ts")).toBeUndefined();
    const loop = [{ from: "a", to: "b" }, { from: "b", to: "c" }, { from: "c", to: "a" }, { from: "c", to: "d" }];
    expect(cycles(loop)).toEqual(["a → b → c → a"]);
    expect(cycles(loop.slice(1))).toEqual([]);
  });
});
