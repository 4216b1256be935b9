/**
 * Just enough of a C preprocessor to read cuda.h / nvrtc.h the way a compiler would for one
 * configuration: conditionals evaluated (undefined names are 0, as in C), `#define A B` renames
 * followed (including cuda.h's `__CUDA_API_PTSZ(x)` wrappers, which are `x` by default), and
 * each function declaration reported under the symbol name the library must export.
 */

export interface Declaration {
  /** The name written in the header (`cuMemAlloc`). */
  readonly declared: string;
  /** What it names after macro expansion (`cuMemAlloc_v2`): the exported symbol. */
  readonly exported: string;
  /** `CUresult`, `nvrtcResult` or `const char*`. */
  readonly returns: string;
  /** Parameter types with their names removed (`CUdeviceptr*`, `size_t`). */
  readonly params: readonly string[];
}

export interface ParsedHeader {
  readonly declarations: readonly Declaration[];
  /** Enumerators and numeric object-like macros seen in active code. */
  readonly constants: ReadonlyMap<string, number>;
}

const RETURN_TYPES = String.raw`(CUresult\s+CUDAAPI|nvrtcResult|const\s+char\s*\*)`;
const DECLARATION = new RegExp(String.raw`\b${RETURN_TYPES}\s*(\w+)\s*\(([^()]*)\)\s*;`, "g");
const ENUMERATOR = /\b([A-Z][A-Z0-9_]+)\s*=\s*(0x[0-9a-fA-F]+|\d+)\b/g;

export function parseHeader(text: string, predefined: Readonly<Record<string, string>> = {}): ParsedHeader {
  const macros = new Map<string, string>(Object.entries(predefined));
  const declarations: Declaration[] = [];
  const constants = new Map<string, number>();
  // Each frame: is this branch active, has any branch of this #if been taken, was the parent active.
  const stack: { active: boolean; taken: boolean; parent: boolean }[] = [];
  const active = () => stack.every((f) => f.active);
  let pending = "";

  const flush = () => {
    for (const m of pending.matchAll(DECLARATION)) {
      const declared = m[2]!;
      const returns = m[1]!.replace(/\s*CUDAAPI$/, "").replace(/\s*\*$/, "*");
      declarations.push({ declared, exported: resolve(declared, macros), returns, params: splitParams(m[3]!) });
    }
    for (const m of pending.matchAll(ENUMERATOR)) constants.set(m[1]!, Number(m[2]!));
    pending = "";
  };

  for (const line of logicalLines(text)) {
    const directive = /^\s*#\s*(\w+)\s*(.*)$/.exec(line);
    if (!directive) {
      if (active()) pending += `${line}\n`;
      continue;
    }
    flush();
    const [, name, rest = ""] = directive;
    const parentActive = active();
    if (name === "if" || name === "ifdef" || name === "ifndef") {
      const cond =
        name === "if" ? evaluate(rest, macros) : name === "ifdef" ? macros.has(word(rest)) : !macros.has(word(rest));
      stack.push({ active: parentActive && cond, taken: cond, parent: parentActive });
    } else if (name === "elif" || name === "else") {
      const frame = stack.at(-1);
      if (!frame) throw new Error(`#${name} without #if`);
      const cond = !frame.taken && (name === "else" || evaluate(rest, macros));
      frame.active = frame.parent && cond;
      frame.taken ||= cond;
    } else if (name === "endif") {
      stack.pop();
    } else if (!parentActive) {
      continue;
    } else if (name === "define") {
      const def = /^(\w+)(\([^)]*\))?\s*(.*)$/.exec(rest);
      if (def && !def[2]) {
        macros.set(def[1]!, def[3]!.trim());
        if (/^(0x[0-9a-fA-F]+|\d+)$/.test(def[3]!.trim())) constants.set(def[1]!, Number(def[3]!.trim()));
      } else if (def) macros.set(def[1]!, "");
    } else if (name === "undef") {
      macros.delete(word(rest));
    }
  }
  flush();
  return { declarations, constants };
}

/** Follows `#define A B` and `#define A __CUDA_API_PTSZ(B)` chains to the final identifier. */
export function resolve(name: string, macros: ReadonlyMap<string, string>): string {
  let current = name;
  for (let hops = 0; hops < 16; hops++) {
    const body = macros.get(current);
    if (body === undefined) return current;
    const target = /^(?:__CUDA_API_PT(?:SZ|DS)\(\s*(\w+)\s*\)|(\w+))$/.exec(body);
    const next = target?.[1] ?? target?.[2];
    if (!next || next === current) return current;
    current = next;
  }
  return current;
}

/** Lines with comments removed and backslash continuations joined. */
function logicalLines(text: string): string[] {
  const uncommented = text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, "");
  return uncommented.replace(/\\\r?\n/g, " ").split(/\r?\n/);
}

function word(rest: string): string {
  return /^(\w+)/.exec(rest.trim())?.[1] ?? "";
}

/** `#if` arithmetic: defined(), numbers, ! && || comparisons, parens; other names are 0. */
function evaluate(expr: string, macros: ReadonlyMap<string, string>): boolean {
  const substituted = expr
    .replace(/defined\s*\(\s*(\w+)\s*\)|defined\s+(\w+)/g, (_, a, b) => (macros.has(a ?? b) ? "1" : "0"))
    .replace(/\b(\d+)[uUlL]+\b/g, "$1")
    .replace(/\b[A-Za-z_]\w*\b/g, (id) => {
      const value = macros.get(id);
      return value !== undefined && /^\d+$/.test(value) ? value : "0";
    });
  if (!/^[\d\s()!&|<>=+\-*]*$/.test(substituted)) throw new Error(`cannot evaluate #if ${expr}`);
  return Boolean(new Function(`return (${substituted || "0"});`)());
}

function splitParams(list: string): string[] {
  const trimmed = list.replace(/\s+/g, " ").trim();
  if (trimmed === "" || trimmed === "void") return [];
  return trimmed.split(",").map((p) => {
    const param = p.trim();
    // Drop the parameter name: the last identifier when something precedes it.
    const typeOnly = param.replace(/\s*\b\w+$/, (name) => (/^(int|char|void|float|size_t)$/.test(name.trim()) ? name : ""));
    return typeOnly.replace(/\s*\*/g, "*").replace(/\s+/g, " ").trim();
  });
}
