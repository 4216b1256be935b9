#!/usr/bin/env bun
/**
 * `latentloom <command> [flags]`: each recipe under a short name, with the recipe's own flags.
 *
 *   bunx latentloom blend --prompts "a forest" --prompts "the sea" --out trip.mp4
 *   bunx latentloom txt2img --help
 *
 * The recipes stay the editable scripts; this only finds one by name and runs it.
 */
import { fileURLToPath } from "node:url";
import { didYouMean } from "../pipelines/cli/did-you-mean.ts";
import { COMMANDS } from "../pipelines/cli/recipes/index.ts";

const [command, ...rest] = process.argv.slice(2);
const names = Object.keys(COMMANDS);

if (command === undefined || command === "--help" || command === "-h" || command === "help") {
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const lines = Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}${spec.description} (recipes/${spec.recipe}.ts)`);
  process.stdout.write(["usage: latentloom <command> [flags]", "", "commands:", ...lines, "", "latentloom <command> --help lists a command's flags.", ""].join("\n"));
  process.exit(command === undefined ? 2 : 0);
}

const spec = COMMANDS[command as keyof typeof COMMANDS] ?? Object.values(COMMANDS).find((s) => s.recipe === command);
if (spec === undefined) {
  process.stderr.write(`error: unknown command ${command}${didYouMean(command, names)}; latentloom --help lists them\n`);
  process.exit(2);
}

const script = fileURLToPath(new URL(`../recipes/${spec.recipe}.ts`, import.meta.url));
process.argv = [process.argv[0]!, script, ...rest];
await import(script);
