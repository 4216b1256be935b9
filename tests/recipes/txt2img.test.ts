import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const recipe = new URL("../../recipes/txt2img.ts", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "latentloom-txt2img-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function txt2img(args: string[]) {
  await using proc = Bun.spawn([process.execPath, "run", recipe, "--size", "64x64", "--steps", "3", ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.bytes(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

describe("recipes/txt2img.ts", () => {
  test("the same seed writes a byte-identical PNG twice; another seed a different one", async () => {
    const paths = ["a.png", "b.png", "c.png"].map((f) => join(tmp, f));
    const runs = await Promise.all([
      txt2img(["--seed", "9", "--out", paths[0]!]),
      txt2img(["--seed", "9", "--out", paths[1]!]),
      txt2img(["--seed", "10", "--out", paths[2]!]),
    ]);
    for (const r of runs) expect(r.exitCode).toBe(0);
    const [a, b, c] = paths.map((p) => readFileSync(p));
    expect(Buffer.compare(a!, b!)).toBe(0);
    expect(Buffer.compare(a!, c!)).not.toBe(0);
    expect(runs[0]!.stderr).toContain(`wrote ${paths[0]}`);
  });

  test("--out - puts only y4m frames on stdout, logs on stderr", async () => {
    const r = await txt2img(["--images", "2", "--out", "-"]);
    expect(r.exitCode).toBe(0);
    const header = new TextDecoder().decode(r.stdout.subarray(0, r.stdout.indexOf(10)));
    expect(header).toStartWith("YUV4MPEG2 W64 H64 ");
    const frames = new TextDecoder("latin1").decode(r.stdout).split("FRAME\n").length - 1;
    expect(frames).toBe(2);
    expect(r.stderr).toContain("txt2img: tiny");
  });
  test("--progress json --quiet: stderr is only JSON lines, one per step and a final one", async () => {
    const r = await txt2img(["--images", "2", "--progress", "json", "--quiet", "--out", join(tmp, "p.png")]);
    expect(r.exitCode).toBe(0);
    const lines = r.stderr.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.done, l.total, l.final])).toEqual([
      [1, 6, false], [2, 6, false], [3, 6, false], [4, 6, false], [5, 6, false], [6, 6, false], [6, 6, true],
    ]);
    for (const l of lines) expect(l.elapsed_s).toBeGreaterThanOrEqual(0);
  });
});
