/**
 * The same recipes under Deno: txt2img and latent-blend write the same bytes under `deno run`
 * as under Bun, and the ORT binding tests pass under `deno test` through the bun:test shim
 * (which is first shown to fail a failing test). Deno is the npm package `deno` (devDependency).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;
const deno = join(root, "node_modules/.bin/deno");
const tmp = mkdtempSync(join(tmpdir(), "latentloom-deno-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

async function run(argv: string[]) {
  await using proc = Bun.spawn(argv, { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.bytes(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

const underBun = (recipe: string, args: string[]) => run([process.execPath, "run", `recipes/${recipe}.ts`, ...args]);
const underDeno = (recipe: string, args: string[]) => run([deno, "run", "-A", `recipes/${recipe}.ts`, ...args]);

/** deno test's closing counts, e.g. "ok | 72 passed | 0 failed (3s)". */
function denoCounts(output: string): { passed: number; failed: number } {
  const m = /(\d+) passed[^|]*\| (\d+) failed/.exec(output);
  if (!m) throw new Error(`no "N passed | N failed" line in deno test's output:\n${output.slice(-2000)}`);
  return { passed: Number(m[1]), failed: Number(m[2]) };
}

test("deno is installed from npm (node_modules/.bin/deno)", () => {
  expect(existsSync(deno)).toBe(true);
});

describe("under deno run", () => {
  test("txt2img writes the same PNG as under Bun", async () => {
    const args = ["--seed", "5", "--steps", "4", "--prompt", "a lighthouse at dusk"];
    const [bun, den] = await Promise.all([
      underBun("txt2img", [...args, "--out", join(tmp, "bun.png")]),
      underDeno("txt2img", [...args, "--out", join(tmp, "deno.png")]),
    ]);
    expect(bun.exitCode).toBe(0);
    expect(den.stderr).toContain(`wrote ${join(tmp, "deno.png")}`);
    expect(den.exitCode).toBe(0);
    const a = readFileSync(join(tmp, "bun.png"));
    expect(a.length).toBeGreaterThan(100);
    expect(Buffer.compare(a, readFileSync(join(tmp, "deno.png")))).toBe(0);
  }, 60_000);

  test("latent-blend streams the same y4m to stdout as under Bun", async () => {
    const args = ["--prompts", "a red fox", "--prompts", "a blue bird", "--fps", "4", "--duration", "1", "--max-branches", "3", "--out", "-"];
    const bun = await underBun("latent-blend", args);
    const den = await underDeno("latent-blend", args);
    expect(bun.exitCode).toBe(0);
    expect(den.exitCode).toBe(0);
    expect(new TextDecoder().decode(bun.stdout.subarray(0, 10))).toBe("YUV4MPEG2 ");
    expect(Buffer.compare(Buffer.from(bun.stdout), Buffer.from(den.stdout))).toBe(0);
  }, 120_000);

  test("a bad flag is the same one error line and exit code as under Bun", async () => {
    const [bun, den] = await Promise.all([underBun("txt2img", ["--steps", "zero"]), underDeno("txt2img", ["--steps", "zero"])]);
    expect(den.exitCode).toBe(bun.exitCode);
    expect(den.exitCode).not.toBe(0);
    expect(den.stderr.trim()).toBe(bun.stderr.trim());
    expect(den.stderr.trim().split("\n")).toHaveLength(1);
  }, 60_000);
});

describe("under deno test, through the bun:test shim", () => {
  async function denoTest(paths: string[]) {
    const r = await run([deno, "test", "-A", "--no-check", "--v8-flags=--expose-gc", ...paths]);
    return { exitCode: r.exitCode, output: new TextDecoder().decode(r.stdout) + r.stderr };
  }

  test("a failing expectation fails the run", async () => {
    const r = await denoTest(["tests/deno/fixtures/failing.ts"]);
    expect(r.exitCode).not.toBe(0);
    expect(denoCounts(r.output)).toEqual({ passed: 1, failed: 1 });
  }, 60_000);

  test("the ORT binding tests (tests/ffi/ort) pass", async () => {
    const r = await denoTest(["tests/ffi/ort/"]);
    const counts = denoCounts(r.output);
    if (counts.failed) console.error(r.output.slice(-4000));
    expect(counts.failed).toBe(0);
    expect(counts.passed).toBeGreaterThanOrEqual(60);
    expect(r.exitCode).toBe(0);
  }, 120_000);
});
