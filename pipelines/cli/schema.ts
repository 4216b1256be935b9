/**
 * A recipe's config schema: flat snake_case keys, each a field that knows its description, its
 * default, how to check a YAML value and how to parse flag text. Checks throw `FieldIssue`
 * with a message that omits the key; config.ts adds where the value came from.
 *
 *   const schema = defineSchema({
 *     steps: field.number({ description: "denoising steps", default: 20, integer: true, min: 1 }),
 *     size: field.size({ description: "output size", default: "512x512", step: 8 }),
 *   });
 *   type Config = InferConfig<typeof schema>; // { readonly steps: number; readonly size: Size }
 *
 * Lists come from YAML arrays, or on the command line from the flag repeated once per item
 * (`--prompts "a cat, at dusk" --prompts "a dog"`): prompts hold commas, so no comma splitting.
 * No nested objects: configs are flat.
 */

/** A value that failed its field's check; the message says why, without naming the key. */
export class FieldIssue extends Error {
  /** For a repeated list flag: the one text that failed, which the caller cannot know. */
  constructor(
    message: string,
    readonly text?: string,
  ) {
    super(message);
  }
}

export interface Size {
  readonly width: number;
  readonly height: number;
}

export type FieldKind = "number" | "string" | "boolean" | "size" | "strings" | "numbers";

export interface Field<T> {
  readonly kind: FieldKind;
  readonly description: string;
  /** undefined: the key is required (no default, not nullable). */
  readonly default: T | undefined;
  /** null is allowed: YAML `~`/`null`, or `--no-<key>` on the command line. */
  readonly nullable: boolean;
  /** How the value is written after the flag in --help: N, TEXT, WxH, a|b. */
  readonly placeholder: string;
  /** Extra words for --help such as the range ("integer, 1 to 500"). */
  readonly constraint: string;
  /** Checks a value read from YAML (or a default). */
  check(value: unknown): T;
  /** Parses the text given after the flag; lists get every repeat, others one text. */
  parseFlag(texts: readonly string[]): T;
  /** Writes a value the way a user would type it, for --help. */
  show(value: T): string;
  /** Other names of the key, in YAML and as flags: the seed projects' spellings (`num_inference_steps`). */
  readonly aliases: readonly string[];
}

export type Schema = Record<string, Field<unknown>>;

/** The typed config a schema describes. */
export type InferConfig<S extends Schema> = { readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never };

type WithNull<T, O> = O extends { nullable: true } ? T | null : T;

interface BaseOptions<T> {
  description: string;
  default?: T | null;
  nullable?: boolean;
  aliases?: readonly string[];
}

export interface NumberOptions extends BaseOptions<number> {
  integer?: boolean;
  min?: number;
  max?: number;
}

export interface StringOptions extends BaseOptions<string> {
  choices?: readonly string[];
}

export interface SizeOptions extends BaseOptions<string> {
  /** Width and height must be positive multiples of this (e.g. 8 for SD latents). */
  step?: number;
  /** Largest side accepted, so an absurd size is refused before anything is allocated. */
  maxSide?: number;
}

export interface ListOptions {
  description: string;
  minItems?: number;
  maxItems?: number;
}

export interface StringsOptions extends ListOptions, BaseOptions<readonly string[]> {
  choices?: readonly string[];
}

export interface NumbersOptions extends ListOptions, BaseOptions<readonly number[]> {
  integer?: boolean;
  min?: number;
  max?: number;
}

const RESERVED = new Set(["config", "from_png", "format", "progress", "verbose", "quiet", "help"]);

/**
 * Checks the key names (flat snake_case, none of the always-present flags, no `no_` prefix,
 * which would clash with `--no-<key>`) and every default, then returns the schema unchanged.
 * A mistake here is the recipe author's, so it throws a plain Error at start-up.
 */
export function defineSchema<const S extends Schema>(schema: S): S {
  const owner = new Map<string, string>();
  for (const [key, f] of Object.entries(schema)) {
    for (const name of [key, ...f.aliases]) {
      if (!/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(name)) throw new Error(`config key "${name}" is not snake_case`);
      if (RESERVED.has(name)) throw new Error(`config key "${name}" is taken by the always-present --${name} flag`);
      if (name.startsWith("no_")) throw new Error(`config key "${name}" would clash with --no-<key>; name the positive form`);
      const taken = owner.get(name);
      if (taken !== undefined) throw new Error(`config key "${name}" of ${key} is already a name of ${taken}`);
      owner.set(name, key);
    }
    const issue = badDefaults.get(f);
    if (issue !== undefined) throw new Error(`default of config key "${key}" is invalid: ${issue}`);
  }
  return schema;
}

/** Fields whose default failed its own check, reported by defineSchema where the key is known. */
const badDefaults = new WeakMap<Field<unknown>, string>();

/** Builds a field, handling null and the default in one place for every kind. */
function makeField<T>(
  kind: FieldKind,
  opts: BaseOptions<unknown>,
  parts: {
    placeholder: string;
    constraint: string;
    check: (v: unknown) => T;
    parseFlag: (texts: readonly string[]) => T;
    show: (v: T) => string;
  },
): Field<T> {
  const nullable = opts.nullable === true;
  const given = opts.default === undefined ? (nullable ? null : undefined) : opts.default;
  let issue: string | undefined;
  let parsedDefault: T | undefined;
  if (opts.default === null && !nullable) issue = "null, but the key is not nullable";
  try {
    // Defaults are written in the options' own form ("512x512"); checking gives the parsed one.
    parsedDefault = given === undefined || given === null ? (given as T | undefined) : parts.check(given);
  } catch (e) {
    if (!(e instanceof FieldIssue)) throw e;
    issue = `${JSON.stringify(given)}: ${e.message}`;
  }
  const f: Field<T> = {
    kind,
    description: opts.description,
    nullable,
    placeholder: parts.placeholder,
    constraint: parts.constraint,
    default: parsedDefault,
    check(v) {
      if (v === null && nullable) return null as T;
      return parts.check(v);
    },
    parseFlag: parts.parseFlag,
    show: (v) => (v === null ? "none" : parts.show(v)),
    aliases: opts.aliases ?? [],
  };
  if (issue !== undefined) badDefaults.set(f as Field<unknown>, issue);
  return f;
}

function last(texts: readonly string[]): string {
  const t = texts[texts.length - 1];
  if (t === undefined) throw new FieldIssue("needs a value");
  return t;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `a ${typeof v}`;
}

const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

function rangeWords(o: { min?: number; max?: number }): string {
  if (o.min !== undefined && o.max !== undefined) return `${o.min} to ${o.max}`;
  if (o.min !== undefined) return `at least ${o.min}`;
  if (o.max !== undefined) return `at most ${o.max}`;
  return "";
}

function numberChecker(o: { integer?: boolean; min?: number; max?: number }) {
  const what = o.integer ? "an integer" : "a number";
  const fromValue = (v: unknown): number => {
    if (typeof v !== "number") throw new FieldIssue(`expected ${what}, got ${typeName(v)}`);
    if (!Number.isFinite(v)) throw new FieldIssue(`expected a finite number`);
    if (o.integer && !Number.isInteger(v)) throw new FieldIssue(`expected an integer`);
    if ((o.min !== undefined && v < o.min) || (o.max !== undefined && v > o.max)) {
      const range = rangeWords(o);
      throw new FieldIssue(o.min !== undefined && o.max !== undefined ? `must be from ${range}` : `must be ${range}`);
    }
    return v;
  };
  const fromText = (t: string): number => {
    if (/^[+-]?(nan|inf|infinity)$/i.test(t.trim())) throw new FieldIssue(`expected a finite number`);
    if (!NUMBER_TEXT.test(t)) throw new FieldIssue(`expected ${what}`);
    return fromValue(Number(t));
  };
  const constraint = [o.integer ? "integer" : "", rangeWords(o)].filter(Boolean).join(", ");
  return { fromValue, fromText, constraint };
}

function stringChecker(choices: readonly string[] | undefined) {
  return (v: unknown): string => {
    if (typeof v !== "string") throw new FieldIssue(`expected a string, got ${typeName(v)}`);
    if (choices && !choices.includes(v)) throw new FieldIssue(`must be one of ${choices.join(", ")}`);
    return v;
  };
}

function listChecker<T>(o: ListOptions, item: (v: unknown) => T, itemText: (t: string) => T) {
  const count = (items: readonly T[], hint: string): readonly T[] => {
    if (o.minItems !== undefined && items.length < o.minItems)
      throw new FieldIssue(`needs at least ${o.minItems} item${o.minItems === 1 ? "" : "s"}, got ${items.length}${hint}`);
    if (o.maxItems !== undefined && items.length > o.maxItems)
      throw new FieldIssue(`takes at most ${o.maxItems} item${o.maxItems === 1 ? "" : "s"}, got ${items.length}`);
    return items;
  };
  return {
    check(v: unknown): readonly T[] {
      if (!Array.isArray(v)) throw new FieldIssue(`expected a list, got ${typeName(v)}`);
      const items = v.map((x, i) => {
        try {
          return item(x);
        } catch (e) {
          if (e instanceof FieldIssue) throw new FieldIssue(`item ${i + 1}: ${e.message}`);
          throw e;
        }
      });
      return count(items, "");
    },
    parseFlag(texts: readonly string[]): readonly T[] {
      const items = texts.map((t) => {
        try {
          return itemText(t);
        } catch (e) {
          if (e instanceof FieldIssue) throw new FieldIssue(e.message, t);
          throw e;
        }
      });
      return count(items, " (repeat the flag once per item)");
    },
  };
}

/** 8192² is 64 Mpx: beyond any diffusion model's working size, and still allocatable. */
const DEFAULT_MAX_SIDE = 8192;

function parseSize(text: string, step: number, maxSide: number): Size {
  const m = /^\s*(\d+)\s*x\s*(\d+)\s*$/i.exec(text);
  if (!m) throw new FieldIssue(`expected WxH, e.g. ${step * 64}x${step * 64}`);
  const size = { width: Number(m[1]), height: Number(m[2]) };
  for (const side of ["width", "height"] as const) {
    const n = size[side];
    if (n <= 0) throw new FieldIssue(`${side} ${n} must be positive`);
    if (n % step !== 0) throw new FieldIssue(`${side} ${n} is not a multiple of ${step}`);
    if (n > maxSide) throw new FieldIssue(`${side} ${n} is above the largest side, ${maxSide}`);
  }
  return size;
}

export const field = {
  number<const O extends NumberOptions>(o: O): Field<WithNull<number, O>> {
    const c = numberChecker(o);
    return makeField<number>("number", o, {
      placeholder: o.integer ? "N" : "X",
      constraint: c.constraint,
      check: c.fromValue,
      parseFlag: (texts) => c.fromText(last(texts)),
      show: String,
    }) as Field<WithNull<number, O>>;
  },

  /** A string; with `choices` its type is the union of them (see also `field.enum`). */
  string<const O extends StringOptions>(
    o: O,
  ): Field<WithNull<O extends { choices: readonly (infer C extends string)[] } ? C : string, O>> {
    const check = stringChecker(o.choices);
    return makeField("string", o, {
      placeholder: o.choices ? o.choices.join("|") : "TEXT",
      constraint: "",
      check,
      parseFlag: (texts) => check(last(texts)),
      show: (v) => (o.choices ? v : JSON.stringify(v)),
    }) as never;
  },

  enum<const C extends readonly [string, ...string[]], const O extends BaseOptions<C[number]>>(
    choices: C,
    o: O,
  ): Field<WithNull<C[number], O>> {
    return field.string({ ...o, choices }) as never;
  },

  /** `--key` / `--no-key` on the command line; true/false in YAML. Defaults to false. */
  boolean(o: { description: string; default?: boolean; aliases?: readonly string[] }): Field<boolean> {
    const check = (v: unknown): boolean => {
      if (typeof v !== "boolean") throw new FieldIssue(`expected true or false, got ${typeName(v)}`);
      return v;
    };
    return makeField<boolean>("boolean", { description: o.description, default: o.default ?? false, aliases: o.aliases }, {
      placeholder: "",
      constraint: "",
      check,
      // The flag parser turns --key / --no-key into "true" / "false".
      parseFlag: (texts) => last(texts) === "true",
      show: String,
    });
  },

  /** "WxH" in YAML and on the command line; each side a positive multiple of `step`. */
  size<const O extends SizeOptions>(o: O): Field<WithNull<Size, O>> {
    const step = o.step ?? 1;
    const maxSide = o.maxSide ?? DEFAULT_MAX_SIDE;
    if (!Number.isInteger(step) || step < 1) throw new Error(`size step must be a positive integer, got ${step}`);
    const check = (v: unknown): Size => {
      if (typeof v !== "string") throw new FieldIssue(`expected WxH as a string, got ${typeName(v)}`);
      return parseSize(v, step, maxSide);
    };
    return makeField<Size>("size", o, {
      placeholder: "WxH",
      constraint: step > 1 ? `multiples of ${step}` : "",
      check,
      parseFlag: (texts) => parseSize(last(texts), step, maxSide),
      show: (v) => `${v.width}x${v.height}`,
    }) as Field<WithNull<Size, O>>;
  },

  strings<const O extends StringsOptions>(
    o: O,
  ): Field<WithNull<readonly (O extends { choices: readonly (infer C extends string)[] } ? C : string)[], O>> {
    const item = stringChecker(o.choices);
    const list = listChecker(o, item, item);
    return makeField("strings", o, {
      placeholder: o.choices ? o.choices.join("|") : "TEXT",
      constraint: "repeatable",
      check: list.check,
      parseFlag: list.parseFlag,
      show: (v) => JSON.stringify(v),
    }) as never;
  },

  numbers<const O extends NumbersOptions>(o: O): Field<WithNull<readonly number[], O>> {
    const c = numberChecker(o);
    const list = listChecker(o, c.fromValue, c.fromText);
    return makeField<readonly number[]>("numbers", o, {
      placeholder: o.integer ? "N" : "X",
      constraint: ["repeatable", c.constraint].filter(Boolean).join(", "),
      check: list.check,
      parseFlag: list.parseFlag,
      show: (v) => `[${v.join(", ")}]`,
    }) as Field<WithNull<readonly number[], O>>;
  },
};
