/**
 * Outputs carry how they were made (PNG tEXt, container metadata) and --from-png makes a frame
 * again from itself; --format picks a named output preset.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFfmpeg } from "../../pipelines/io/ffmpeg.ts";
import { encodePng, readPngText } from "../../pipelines/io/png-files.ts";

const root = new URL("../../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "latentloom-provenance-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(recipe: string, args: string[]) {
  await using proc = Bun.spawn([process.execPath, "run", join(root, "recipes", `${recipe}.ts`), ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.text(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

const small = ["--size", "64x64", "--steps", "3"];
const made = (path: string) => JSON.parse(readPngText(readFileSync(path)).latentloom!);

describe("a txt2img PNG", () => {
  const first = join(tmp, "first.png");

  test("carries the recipe, the version and the resolved config, sizes as WxH and no out", async () => {
    const r = await run("txt2img", [...small, "--seed", "11", "--prompt", "a red fox", "--out", first]);
    expect(r.exitCode).toBe(0);
    const m = made(first);
    expect(m.recipe).toBe("txt2img");
    expect(m.version).toBe(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version);
    expect(m.config).toMatchObject({ seed: 11, steps: 3, size: "64x64", prompt: "a red fox", scheduler: "ddim" });
    expect("out" in m.config).toBe(false);
  });

  test("--from-png makes it again, byte for byte, and flags still override", async () => {
    const again = join(tmp, "again.png");
    expect((await run("txt2img", ["--from-png", first, "--out", again])).exitCode).toBe(0);
    expect(Buffer.compare(readFileSync(again), readFileSync(first))).toBe(0);
    const other = join(tmp, "other.png");
    expect((await run("txt2img", ["--from-png", first, "--seed", "12", "--out", other])).exitCode).toBe(0);
    expect(made(other).config.seed).toBe(12);
    expect(Buffer.compare(readFileSync(other), readFileSync(first))).not.toBe(0);
  });

  test("--from-png refuses a PNG of another recipe, a PNG without our config, and --config beside it", async () => {
    const blend = join(tmp, "blend/");
    expect((await run("latent-blend", [...small, "--fps", "2", "--duration", "0.5", "--max-branches", "2", "--out", blend])).exitCode).toBe(0);
    const fromBlend = await run("txt2img", ["--from-png", join(blend, "00001.png")]);
    expect(fromBlend.stderr.trim()).toMatch(/^error: --from-png .*00001\.png: it was made by latent-blend, not txt2img$/);
    expect(fromBlend.exitCode).toBe(2);

    const plain = join(tmp, "plain.png");
    await Bun.write(plain, encodePng({ width: 2, height: 2, data: new Uint8Array(12) }));
    const bare = await run("txt2img", ["--from-png", plain]);
    expect(bare.stderr.trim()).toMatch(/^error: --from-png .*plain\.png: the PNG carries no latentloom config/);
    const both = await run("txt2img", ["--from-png", first, "--config", plain]);
    expect(both.stderr.trim()).toBe("error: --config and --from-png cannot be used together: each replaces the YAML file");
  });
});

describe("--format", () => {
  test("a mismatch with the extension, stdout, or an unknown name is one usage error", async () => {
    const cases: [string[], RegExp][] = [
      [["--format", "png", "--out", join(tmp, "x.mp4")], /^error: --format png writes a PNG sequence, not .*x\.mp4/],
      [["--format", "h264-mp4", "--out", join(tmp, "x.webm")], /^error: --format h264-mp4 writes \.mp4 files, not .*x\.webm$/],
      [["--format", "webm", "--out", "-"], /^error: --format webm writes a \.webm file; stdout carries y4m only$/],
      [["--format", "avi"], /^error: --format avi: must be one of h264-mp4, webm, gif, prores, png$/],
    ];
    for (const [args, message] of cases) {
      const r = await run("txt2img", [...small, ...args]);
      expect({ stderr: r.stderr.trim(), exitCode: r.exitCode }).toEqual({ stderr: expect.stringMatching(message), exitCode: 2 });
    }
  });

  test("png on a name without an extension writes a PNG folder", async () => {
    const r = await run("txt2img", [...small, "--images", "2", "--format", "png", "--out", join(tmp, "seq")]);
    expect(r.exitCode).toBe(0);
    expect([existsSync(join(tmp, "seq", "00001.png")), existsSync(join(tmp, "seq", "00002.png"))]).toEqual([true, true]);
  });

  const ffmpeg = findFfmpeg();
  if (ffmpeg === null) console.log("provenance: skipping the video cases: no ffmpeg found");
  const probe = async (path: string) => {
    await using p = Bun.spawn([ffmpeg!, "-hide_banner", "-i", path], { stdout: "ignore", stderr: "pipe" });
    return await p.stderr.text();
  };

  test.skipIf(ffmpeg === null)("h264-mp4 is tagged BT.709 and carries the config as its comment", async () => {
    const path = join(tmp, "clip.mp4");
    expect((await run("txt2img", [...small, "--images", "2", "--seed", "4", "--out", path])).exitCode).toBe(0);
    const info = await probe(path);
    expect(info).toMatch(/Video: h264 .*yuv420p\(tv, bt709/);
    const comment = /^\s*comment\s*: (.*)$/m.exec(info)?.[1];
    expect(JSON.parse(comment!)).toMatchObject({ recipe: "txt2img", config: { seed: 4, images: 2 } });
  });

  test.skipIf(ffmpeg === null)("prores on a name without an extension writes a ProRes .mov", async () => {
    expect((await run("txt2img", [...small, "--format", "prores", "--out", join(tmp, "edit")])).exitCode).toBe(0);
    expect(await probe(join(tmp, "edit.mov"))).toMatch(/Video: prores .*yuv422p10le/);
  });
});
