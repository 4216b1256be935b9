/**
 * A recipe's config, in three layers: the schema's defaults, then configs/<recipe>.yaml (or the
 * file given by --config instead), then one flag per key. Every mistake is a UsageError (exit
 * code 2) on one line naming the flag, or the file and key.
 *
 *   const { config, verbose } = loadConfig(schema, { recipe: "txt2img" });
 */
import { readFileSync, writeSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { host } from "../../ffi/host/index.ts";
import { UsageError } from "../errors.ts";
import { didYouMean } from "./did-you-mean.ts";
import { hasFlag, kebab, parseFlags, type ParsedFlags, type ProgressFormat } from "./flags.ts";
import { formatHelp } from "./help.ts";
import { FieldIssue, type InferConfig, type Schema } from "./schema.ts";
import { PROVENANCE_KEY } from "../io/frame-sink.ts";
import { readPngText } from "../io/png-files.ts";

/** <repository>/configs, found from this file's place in the tree (pipelines/cli/). */
export const CONFIG_DIR = fileURLToPath(new URL("../../configs/", import.meta.url));

export interface LoadConfigOptions {
  /** Names configs/<recipe>.yaml and the usage line. */
  recipe: string;
  /** Defaults to process.argv.slice(2). */
  argv?: readonly string[];
  /** Where <recipe>.yaml is looked for; defaults to CONFIG_DIR. */
  configDir?: string;
  /** Printed under the usage line of --help. */
  description?: string;
  /** Accept arguments that are not flags (returned in `positionals`); otherwise they are errors. */
  allowPositionals?: boolean;
}

export interface LoadedConfig<S extends Schema> {
  config: InferConfig<S>;
  verbose: boolean;
  quiet: boolean;
  progress: ProgressFormat;
  /** --format as given (checked where the output is opened). */
  format: string | undefined;
  positionals: string[];
  /** The YAML file read (as shown in messages), or null when the recipe has none. */
  configFile: string | null;
}

/** What parseConfig found: the help text when --help/-h was given, else the config. */
export type ConfigOutcome<S extends Schema> = { help: string } | ({ help?: undefined } & LoadedConfig<S>);

/** Like loadConfig, but --help comes back as text instead of printing and exiting. */
export function parseConfig<const S extends Schema>(schema: S, o: LoadConfigOptions): ConfigOutcome<S> {
  const argv = o.argv ?? process.argv.slice(2);
  const allowPositionals = o.allowPositionals ?? false;

  if (hasFlag(argv, "help", "h")) {
    // Help still shows the YAML's defaults, even if other flags are wrong.
    let flags: ParsedFlags | undefined;
    try {
      flags = parseFlags(schema, argv, allowPositionals);
    } catch {}
    const layer = readLayer(schema, o, flags?.config);
    const values = { ...defaults(schema), ...layer.values };
    return { help: formatHelp(schema, { ...o, values, allowPositionals, configFile: layer.file ?? undefined }) };
  }

  const flags = parseFlags(schema, argv, allowPositionals);
  const layer = flags.fromPng === undefined ? readLayer(schema, o, flags.config) : readPngLayer(schema, o, flags.fromPng);
  const values: Record<string, unknown> = { ...defaults(schema), ...layer.values };

  for (const [key, given] of flags.overrides) {
    const f = schema[key]!;
    if (given.texts === null) {
      values[key] = null;
      continue;
    }
    try {
      values[key] = f.parseFlag(given.texts);
    } catch (e) {
      if (!(e instanceof FieldIssue)) throw e;
      const list = f.kind === "strings" || f.kind === "numbers";
      // A list's own count check has no single text to show.
      const text = list ? e.text : given.texts[given.texts.length - 1];
      throw new UsageError(`${given.flag}${text === undefined ? "" : ` ${showText(text)}`}: ${e.message}`);
    }
  }

  for (const [key, f] of Object.entries(schema)) {
    if (values[key] !== undefined) continue;
    const where = layer.file ? `set ${key} in ${layer.file} or ` : "";
    throw new UsageError(`missing ${key}: ${where}pass --${kebab(key)} ${f.placeholder}`);
  }

  return {
    config: values as InferConfig<S>,
    verbose: flags.verbose,
    quiet: flags.quiet,
    progress: flags.progress,
    format: flags.format,
    positionals: flags.positionals,
    configFile: layer.file,
  };
}

/**
 * Reads the config for a recipe from its defaults, YAML file and flags. --help prints the
 * generated help on stdout and exits 0; every mistake throws a one-line UsageError.
 */
export function loadConfig<const S extends Schema>(schema: S, o: LoadConfigOptions): LoadedConfig<S> {
  const outcome = parseConfig(schema, o);
  if (outcome.help === undefined) return outcome;
  try {
    // Synchronous, so process.exit cannot cut it short.
    writeSync(1, outcome.help);
  } catch (e) {
    // `--help | head -1` closes stdout early; the reader has what it wanted.
    if ((e as NodeJS.ErrnoException).code !== "EPIPE") throw e;
  }
  process.exit(0);
}

function defaults(schema: Schema): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schema).map(([key, f]) => [key, f.default]));
}

/** Shows flag text as typed, quoted only when it would be ambiguous unquoted. */
function showText(t: string): string {
  return /^[^\s"'\\]+$/.test(t) ? t : JSON.stringify(t);
}

function showValue(v: unknown): string {
  // JSON would print NaN and Infinity as null.
  return typeof v === "number" || v === undefined ? String(v) : JSON.stringify(v);
}

function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/** The YAML layer: checked values per key, and the file name as messages show it. */
function readLayer(
  schema: Schema,
  o: LoadConfigOptions,
  given: string | undefined,
): { file: string | null; values: Record<string, unknown> } {
  const path = given ?? join(o.configDir ?? CONFIG_DIR, `${o.recipe}.yaml`);
  const file = given ?? displayPath(path);
  const label = given === undefined ? file : `--config ${showText(given)}`;

  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // A recipe need not ship a YAML file; its schema defaults then stand alone.
    if (given === undefined && err.code === "ENOENT") return { file: null, values: {} };
    const why = err.code === "ENOENT" ? "no such file" : err.code === "EISDIR" ? "is a folder" : firstLine(err.message);
    throw new UsageError(`${label}: cannot read the file: ${why}`);
  }

  let doc: unknown;
  try {
    doc = host.parseYaml(text);
  } catch (e) {
    const why = firstLine(e instanceof Error ? e.message : String(e)).replace(/^YAML parse error:\s*/i, "");
    throw new UsageError(`${label}: not valid YAML: ${why}`);
  }
  if (doc === null || doc === undefined) return { file, values: {} };
  if (typeof doc !== "object" || Array.isArray(doc))
    throw new UsageError(`${label}: expected a mapping of keys to values, got ${Array.isArray(doc) ? "a list" : typeof doc}`);

  return { file, values: checkLayer(schema, doc, file) };
}

/** --from-png: the config embedded in a PNG this recipe wrote, as the layer below the flags. */
function readPngLayer(schema: Schema, o: LoadConfigOptions, path: string): { file: string | null; values: Record<string, unknown> } {
  const label = `--from-png ${showText(path)}`;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`${label}: cannot read the file: ${err.code === "ENOENT" ? "no such file" : firstLine(err.message)}`);
  }
  let text: string | undefined;
  try {
    text = readPngText(bytes, path)[PROVENANCE_KEY];
  } catch (e) {
    throw new UsageError(`${label}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (text === undefined) throw new UsageError(`${label}: the PNG carries no latentloom config (was it written by a recipe?)`);
  let made: { recipe?: unknown; config?: unknown };
  try {
    made = JSON.parse(text);
  } catch {
    throw new UsageError(`${label}: its latentloom config is not valid JSON`);
  }
  if (made.recipe !== o.recipe) throw new UsageError(`${label}: it was made by ${String(made.recipe)}, not ${o.recipe}`);
  if (typeof made.config !== "object" || made.config === null) throw new UsageError(`${label}: its latentloom config has no settings`);
  return { file: path, values: checkLayer(schema, made.config, path) };
}

/** Checks a mapping of keys (or their aliases) to values against the schema; `file` names it in errors. */
function checkLayer(schema: Schema, doc: object, file: string): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const keyOf = new Map(Object.entries(schema).flatMap(([key, f]) => [key, ...f.aliases].map((name) => [name, key] as const)));
  const spelled = new Map<string, string>();
  for (const [name, raw] of Object.entries(doc)) {
    const key = keyOf.get(name);
    if (key === undefined) throw new UsageError(`${file}: unknown key ${name}${didYouMean(name, [...keyOf.keys()])}`);
    const earlier = spelled.get(key);
    if (earlier !== undefined) throw new UsageError(`${file}: ${earlier} and ${name} are the same key; keep one`);
    spelled.set(key, name);
    const f = schema[key]!;
    try {
      values[key] = f.check(raw);
    } catch (e) {
      if (!(e instanceof FieldIssue)) throw e;
      throw new UsageError(`${file}: ${name} = ${showValue(raw)}: ${e.message}`);
    }
  }
  return values;
}

function firstLine(s: string): string {
  return s.split("\n", 1)[0]!.trim();
}
