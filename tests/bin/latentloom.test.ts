/** `latentloom <command>`: lists the commands, runs each recipe with its own flags, refuses unknown ones. */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../../pipelines/cli/recipes/index.ts";

const root = join(import.meta.dir, "../..");

async function run(args: string[], script = join(root, "bin", "latentloom.ts")) {
  await using proc = Bun.spawn([process.execPath, "run", script, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.text(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

describe("latentloom", () => {
  test("has a command for every recipe script", () => {
    const scripts = readdirSync(join(root, "recipes")).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3));
    expect(Object.values(COMMANDS).map((s) => s.recipe).sort()).toEqual(scripts.sort());
  });

  test("--help lists every command with its recipe", async () => {
    const r = await run(["--help"]);
    expect(r.exitCode).toBe(0);
    for (const [name, spec] of Object.entries(COMMANDS)) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name} +.*\\(recipes/${spec.recipe}\\.ts\\)$`, "m"));
    }
  });

  test("<command> --help is the recipe's own help", async () => {
    const viaBin = await run(["blend", "--help"]);
    const direct = await run(["--help"], join(root, "recipes", "latent-blend.ts"));
    expect(viaBin.exitCode).toBe(0);
    expect(viaBin.stdout).toBe(direct.stdout);
    expect(viaBin.stdout).toContain("--steps N");
  });

  test("passes the recipe's flags on: a bad one is the recipe's own error", async () => {
    const r = await run(["txt2img", "--steps", "0"]);
    expect(r.stderr.trim()).toBe("error: --steps 0: must be from 1 to 1000");
    expect(r.exitCode).toBe(2);
  });

  test("an unknown command is one error line with a suggestion, exit 2", async () => {
    const r = await run(["blnd"]);
    expect(r.stderr.trim()).toBe("error: unknown command blnd (did you mean blend?); latentloom --help lists them");
    expect(r.exitCode).toBe(2);
  });
});
