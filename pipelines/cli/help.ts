/** The --help text, generated from a schema: one line per key with its flag, description and default. */
import { kebab } from "./flags.ts";
import type { Schema } from "./schema.ts";

export interface HelpOptions {
  recipe: string;
  /** A sentence or two about the recipe, printed under the usage line. */
  description?: string;
  /** The config file the shown defaults came from, if one was read. */
  configFile?: string;
  /** Each key's value before flags (schema default, then the YAML); undefined = required. */
  values: Record<string, unknown>;
  allowPositionals?: boolean;
}

const COLUMN = 30;

function flagColumn(key: string, kind: string, placeholder: string, nullable: boolean): string {
  const name = kebab(key);
  if (kind === "boolean") return `--[no-]${name}`;
  const plain = `--${name} ${placeholder}`;
  return nullable ? `${plain} | --no-${name}` : plain;
}

function row(left: string, right: string): string {
  const pad = left.length + 2 < COLUMN ? " ".repeat(COLUMN - left.length) : `\n${" ".repeat(COLUMN + 2)}`;
  return `  ${left}${pad}${right}`;
}

export function formatHelp(schema: Schema, o: HelpOptions): string {
  const lines = [`usage: bun recipes/${o.recipe}.ts [flags]${o.allowPositionals ? " [arguments]" : ""}`, ""];
  if (o.description) lines.push(o.description, "");
  lines.push(o.configFile ? `flags (defaults as set by ${o.configFile}):` : "flags:");
  for (const [key, f] of Object.entries(schema)) {
    const value = o.values[key];
    const extra = [f.constraint, value === undefined ? "required" : `default: ${f.show(value)}`].filter(Boolean);
    const also = f.aliases.length ? `; also ${f.aliases.map((a) => `--${kebab(a)}`).join(", ")}` : "";
    lines.push(row(flagColumn(key, f.kind, f.placeholder, f.nullable), `${f.description} (${extra.join("; ")}${also})`));
  }
  lines.push(
    "",
    row("--config FILE", `read FILE instead of configs/${o.recipe}.yaml`),
    row("--from-png FILE", "take the config a PNG from this recipe carries (flags still override)"),
    row("--format NAME", "h264-mp4, webm, gif, prores or png, instead of what --out's extension says"),
    row("--progress text|json", "progress on stderr as text (default) or one JSON line per step"),
    row("--verbose", "show debug logs, and stack traces on errors"),
    row("--quiet", "no logs on stderr (errors still show)"),
    row("-h, --help", "show this help"),
    "",
    "Flags override the config file. Keys are snake_case in YAML; flags take either spelling",
    "(--negative-prompt or --negative_prompt).",
  );
  const list = Object.entries(schema).find(([, f]) => f.kind === "strings" || f.kind === "numbers");
  if (list) lines.push(`Repeat a list flag once per item: --${kebab(list[0])} A --${kebab(list[0])} B.`);
  return lines.join("\n") + "\n";
}
