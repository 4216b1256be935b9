/**
 * Command-line flags for a schema, read with node:util parseArgs in its non-strict token mode so
 * that every mistake gets our own one-line message. Each key `negative_prompt` answers to
 * `--negative-prompt` and `--negative_prompt`; booleans also to `--no-<key>`, nullable keys to
 * `--no-<key>` (which sets null); aliases (`--num-inference-steps` for `steps`) answer the same way.
 * A value may follow as the next argument or after `=`; a value that itself starts with `--` must
 * use `=` (so `--prompt --steps 3` is caught, not swallowed).
 */
import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { didYouMean } from "./did-you-mean.ts";
import type { FieldKind, Schema } from "./schema.ts";

/** Flags every recipe has, whatever its schema. */
export const COMMON_FLAGS = ["config", "from-png", "format", "progress", "verbose", "quiet", "help"] as const;
const VALUED_FLAGS: ReadonlySet<string> = new Set(["config", "from-png", "format", "progress"]);
/** How progress is reported: a bar or plain lines for people, one JSON line per step for tools. */
export const PROGRESS_FORMATS = ["text", "json"] as const;
export type ProgressFormat = (typeof PROGRESS_FORMATS)[number];
type CommonFlag = (typeof COMMON_FLAGS)[number];

/** What the command line said about one key: its texts (all repeats), or null from --no-<key>. */
export type KeyOverride = { flag: string; texts: string[] } | { flag: string; texts: null };

export interface ParsedFlags {
  config: string | undefined;
  /** A PNG we wrote, whose embedded config replaces the YAML layer. */
  fromPng: string | undefined;
  /** An output format (a video preset or png), checked where outputs are opened. */
  format: string | undefined;
  progress: ProgressFormat;
  verbose: boolean;
  quiet: boolean;
  help: boolean;
  overrides: Map<string, KeyOverride>;
  positionals: string[];
}

type Target = { common: CommonFlag } | { key: string; negated: boolean };

export const kebab = (key: string): string => key.replaceAll("_", "-");

/** True when `--name` appears before any `--` (used to know --verbose even when parsing fails). */
export function hasFlag(argv: readonly string[], name: CommonFlag, short?: string): boolean {
  for (const a of argv) {
    if (a === "--") return false;
    if (a === `--${name}` || (short !== undefined && a === `-${short}`)) return true;
  }
  return false;
}

function flagTable(schema: Schema): Map<string, Target> {
  const table = new Map<string, Target>();
  for (const c of COMMON_FLAGS) table.set(c, { common: c });
  for (const [key, f] of Object.entries(schema)) {
    for (const name of [key, ...f.aliases]) {
      for (const [flag, negation] of [[kebab(name), `no-${kebab(name)}`], [name, `no_${name}`]] as const) {
        table.set(flag, { key, negated: false });
        if (f.kind === "boolean" || f.nullable) table.set(negation, { key, negated: true });
      }
    }
  }
  return table;
}

/** Reads argv against the schema's flags; throws UsageError for the first problem found. */
export function parseFlags(schema: Schema, argv: readonly string[], allowPositionals: boolean): ParsedFlags {
  const table = flagTable(schema);
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, t] of table) {
    const takesValue = "common" in t ? VALUED_FLAGS.has(t.common) : !t.negated && schema[t.key]!.kind !== "boolean";
    options[name] = { type: takesValue ? "string" : "boolean" };
  }
  options.help = { type: "boolean", short: "h" };

  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const out: ParsedFlags = {
    config: undefined, fromPng: undefined, format: undefined, progress: "text",
    verbose: false, quiet: false, help: false, overrides: new Map(), positionals: [],
  };
  // Kebab spellings only, so the suggestion shows the form --help prints.
  const known = [...table.keys()].filter((n) => !n.includes("_"));

  for (const tok of tokens) {
    if (tok.kind === "option-terminator") continue;
    if (tok.kind === "positional") {
      if (!allowPositionals)
        throw new UsageError(`unexpected argument ${JSON.stringify(tok.value)}: this recipe takes only flags (see --help)`);
      out.positionals.push(tok.value);
      continue;
    }
    const flag = tok.rawName;
    const target = table.get(tok.name);
    if (target === undefined) throw unknownFlag(schema, tok.name, flag, known);
    const takesValue = options[tok.name]!.type === "string";
    if (!takesValue && tok.value !== undefined)
      throw new UsageError(`${flag} takes no value${"key" in target ? `; use --${kebab(target.key)} or --no-${kebab(target.key)}` : ""}`);
    if (takesValue && (tok.value === undefined || (!tok.inlineValue && tok.value.startsWith("--"))))
      throw new UsageError(
        `${flag} needs a value` +
          (tok.value === undefined ? "" : ` (got the flag ${tok.value}; write ${flag}=${tok.value} to pass that text)`),
      );

    if ("common" in target) {
      if (target.common === "config") out.config = tok.value;
      else if (target.common === "from-png") out.fromPng = tok.value;
      else if (target.common === "format") out.format = tok.value;
      else if (target.common === "progress") out.progress = progressFormat(tok.value!, flag);
      else out[target.common] = true;
      continue;
    }
    const f = schema[target.key]!;
    const earlier = out.overrides.get(target.key);
    if (target.negated) {
      out.overrides.set(target.key, f.kind === "boolean" ? { flag, texts: ["false"] } : { flag, texts: null });
    } else if (f.kind === "boolean") {
      out.overrides.set(target.key, { flag, texts: ["true"] });
    } else {
      // Lists gather every repeat; other keys keep the last one given.
      const repeats = (f.kind === "strings" || f.kind === "numbers") && earlier?.texts ? earlier.texts : [];
      out.overrides.set(target.key, { flag, texts: [...repeats, tok.value!] });
    }
  }
  if (out.verbose && out.quiet) throw new UsageError("--verbose and --quiet cannot be used together");
  if (out.config !== undefined && out.fromPng !== undefined) throw new UsageError("--config and --from-png cannot be used together: each replaces the YAML file");
  return out;
}

function progressFormat(text: string, flag: string): ProgressFormat {
  if ((PROGRESS_FORMATS as readonly string[]).includes(text)) return text as ProgressFormat;
  throw new UsageError(`${flag} ${text}: must be one of ${PROGRESS_FORMATS.join(", ")}`);
}

const KIND_WORDS: Record<FieldKind, string> = {
  number: "a number",
  string: "a string",
  boolean: "a boolean",
  size: "a size",
  strings: "a list of strings",
  numbers: "a list of numbers",
};

function unknownFlag(schema: Schema, name: string, flag: string, known: string[]): UsageError {
  const positive = name.replace(/^no[-_]/, "").replaceAll("_", "-");
  const key = positive.replaceAll("-", "_");
  if (positive !== name && schema[key] !== undefined)
    return new UsageError(`unknown flag ${flag}: ${key} is ${KIND_WORDS[schema[key]!.kind]}, neither a boolean nor nullable`);
  return new UsageError(`unknown flag ${flag}${didYouMean(name.replaceAll("_", "-"), known, (c) => `--${c}`)}`);
}
