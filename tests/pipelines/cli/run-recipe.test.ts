import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reportError } from "../../../pipelines/cli/run-recipe.ts";
import { ModelError, UsageError } from "../../../pipelines/errors.ts";

const FIXTURE = join(import.meta.dir, "recipe-fixture.ts");
const BARE_FIXTURE = join(import.meta.dir, "bare-recipe-fixture.ts");
const FRAME = 4096; // recipe-fixture.ts writes frames of this many bytes

const configDir = mkdtempSync(join(tmpdir(), "latentloom-run-"));
afterAll(() => rmSync(configDir, { recursive: true, force: true }));
writeFileSync(join(configDir, "fixture.yaml"), "steps: 30\nseed: 5\n");
writeFileSync(join(configDir, "wrong-type.yaml"), "guidance: high\n");

function env(mode: string): Record<string, string> {
  return { ...process.env, FIXTURE_MODE: mode, FIXTURE_CONFIG_DIR: configDir } as Record<string, string>;
}

/** Runs the fixture recipe to the end: its stdout, stderr and exit code. */
async function recipe(args: string[], mode = "print-config", fixture = FIXTURE) {
  await using proc = Bun.spawn({ cmd: [process.execPath, fixture, ...args], env: env(mode), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.text(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

describe("a recipe run through runRecipe", () => {
  describe("given good flags", () => {
    test("gets default < YAML < flag, with logs on stderr only", async () => {
      const r = await recipe(["--guidance", "3", "--size", "640x360"]);
      expect({ ...r, stdout: JSON.parse(r.stdout) }).toEqual({
        stdout: {
          config: {
            prompt: "a lighthouse",
            negative_prompt: "",
            steps: 30,
            guidance: 3,
            size: { width: 640, height: 360 },
            scheduler: "euler",
            seed: 5,
            tiling: false,
            prompts: [],
            weights: [1],
          },
          verbose: false,
          quiet: false,
        },
        stderr: "log line\n",
        exitCode: 0,
      });
    });

    test("--quiet silences log and --verbose adds debug", async () => {
      const [quiet, verbose] = await Promise.all([recipe(["--quiet"]), recipe(["--verbose"])]);
      expect([quiet.stderr, verbose.stderr]).toEqual(["", "log line\ndebug: debug line\n"]);
    });
  });

  describe("given a usage mistake", () => {
    // Each is one line on stderr, nothing on stdout, exit code 2, no stack.
    test.each([
      [["--stepz", "3"], "unknown flag --stepz (did you mean --steps?)"],
      [["--guidance", "nan"], "--guidance nan: expected a finite number"],
      [["--steps", "0"], "--steps 0: must be from 1 to 500"],
      [["--steps", "8x"], "--steps 8x: expected an integer"],
      [["--size", "100x100"], "--size 100x100: width 100 is not a multiple of 8"],
      [["--scheduler", "heun"], "--scheduler heun: must be one of ddim, euler"],
      [["--weights", "1", "--weights", "-2"], "--weights -2: must be at least 0"],
      [["out.y4m"], 'unexpected argument "out.y4m": this recipe takes only flags (see --help)'],
      [["--config", join(configDir, "none.yaml")], `--config ${join(configDir, "none.yaml")}: cannot read the file: no such file`],
      [["--config", join(configDir, "wrong-type.yaml")], `${join(configDir, "wrong-type.yaml")}: guidance = "high": expected a number, got a string`],
    ])("%p exits 2 with: %s", async (args, message) => {
      expect(await recipe(args)).toEqual({ stdout: "", stderr: `error: ${message}\n`, exitCode: 2 });
    });

    test("an unknown key in the recipe's own YAML names that file", async () => {
      const dir = mkdtempSync(join(tmpdir(), "latentloom-run-"));
      try {
        writeFileSync(join(dir, "fixture.yaml"), "stepz: 3\n");
        await using proc = Bun.spawn({
          cmd: [process.execPath, FIXTURE],
          env: { ...env("print-config"), FIXTURE_CONFIG_DIR: dir },
          stdout: "pipe",
          stderr: "pipe",
        });
        const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.text(), proc.stderr.text(), proc.exited]);
        expect({ stdout, stderr, exitCode }).toEqual({
          stdout: "",
          stderr: `error: ${join(dir, "fixture.yaml")}: unknown key stepz (did you mean steps?)\n`,
          exitCode: 2,
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("--verbose adds the stack even though parsing failed", async () => {
      const r = await recipe(["--verbose", "--steps", "0"]);
      const [first, ...rest] = r.stderr.trimEnd().split("\n");
      expect({ first, exitCode: r.exitCode, stackOnly: rest.length > 0 && rest.every((l) => /^\s+at /.test(l)) }).toEqual({
        first: "error: --steps 0: must be from 1 to 500",
        exitCode: 2,
        stackOnly: true,
      });
    });
  });

  describe("given --help", () => {
    test("prints the generated help on stdout, with the YAML's defaults, and exits 0", async () => {
      const schemaHelp = await recipe(["--help"]);
      expect(schemaHelp.exitCode).toBe(0);
      expect(schemaHelp.stderr).toBe("");
      expect(schemaHelp.stdout).toContain("  --steps N                     denoising steps (integer, 1 to 500; default: 30)\n");
      expect(schemaHelp.stdout).toContain("  --seed N | --no-seed          noise seed; none picks one (integer; default: 5)\n");
    });
  });

  describe("when the body throws", () => {
    test("a LatentloomError prints its message and hint and exits with its code", async () => {
      expect(await recipe([], "throw-model")).toEqual({
        stdout: "",
        stderr: "log line\nerror: model folder /m has no unet/model.onnx\nhint: export one with optimum-cli\n",
        exitCode: 1,
      });
    });

    test("any other error prints one line and points at --verbose", async () => {
      expect(await recipe([], "throw-plain")).toEqual({
        stdout: "",
        stderr: "log line\nerror: cannot read properties of undefined (run with --verbose for details)\n",
        exitCode: 1,
      });
    });

    test("a rejection nobody awaited is reported the same way", async () => {
      expect(await recipe([], "stray-rejection")).toEqual({
        stdout: "",
        stderr: "log line\nerror: stray failure (run with --verbose for details)\n",
        exitCode: 1,
      });
    });

    test("with --verbose the stack follows the message", async () => {
      const r = await recipe(["--verbose"], "throw-plain");
      const lines = r.stderr.trimEnd().split("\n");
      expect({ head: lines.slice(0, 3), exitCode: r.exitCode, names: r.stderr.includes("recipe-fixture.ts:") }).toEqual({
        head: ["log line", "debug: debug line", "error: cannot read properties of undefined"],
        exitCode: 1,
        names: true,
      });
    });
  });

  describe("when stdout's reader goes away (| head)", () => {
    // bash reports the recipe's own exit code from the pipeline.
    async function throughHead(mode: string) {
      const script = `"$0" "$1" | head -c 10000 > /dev/null; echo "\${PIPESTATUS[0]}"`;
      await using proc = Bun.spawn({ cmd: ["bash", "-c", script, process.execPath, FIXTURE], env: env(mode), stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr] = await Promise.all([proc.stdout.text(), proc.stderr.text(), proc.exited]);
      return { recipeExitCode: stdout.trim(), stderr };
    }

    test("a write that fails stops the recipe quietly with exit code 0", async () => {
      expect(await throughHead("frames-await")).toEqual({ recipeExitCode: "0", stderr: "log line\n" });
    });

    test("a failed write nobody awaited does the same once it is reported", async () => {
      expect(await throughHead("frames-unawaited")).toEqual({ recipeExitCode: "0", stderr: "log line\n" });
    });
  });

  describe("when SIGINT arrives mid-stream", () => {
    /**
     * Starts the frame-writing fixture without reading its stdout, so it soon blocks on a full
     * pipe mid-frame; sends SIGINT once per `waitFor` line seen on stderr; then drains both.
     */
    async function interrupt(waitFor: string[], mode = "frames-until-sigint") {
      await using proc = Bun.spawn({ cmd: [process.execPath, FIXTURE], env: env(mode), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      const errReader = proc.stderr.getReader();
      const decoder = new TextDecoder();
      let stderr = "";
      for (const line of waitFor) {
        while (!stderr.includes(line)) {
          const { value, done } = await errReader.read();
          if (done) break;
          stderr += decoder.decode(value, { stream: true });
        }
        proc.kill("SIGINT");
      }
      const stdout = await proc.stdout.bytes();
      for (;;) {
        const { value, done } = await errReader.read();
        if (done) break;
        stderr += decoder.decode(value, { stream: true });
      }
      const frames = stdout.length / FRAME;
      const torn: number[] = [];
      for (let i = 0; i < frames; i++) {
        if (!stdout.subarray(i * FRAME, (i + 1) * FRAME).every((b) => b === i % 251)) torn.push(i);
      }
      return { exitCode: await proc.exited, stderr, wholeFrames: Number.isInteger(frames) && frames >= 3, torn };
    }

    test("finishes the frame under way, stops between frames and exits 130", async () => {
      expect(await interrupt(["ready\n"])).toEqual({
        exitCode: 130,
        stderr:
          "log line\nready\ninterrupted: finishing the frame under way (Ctrl-C again to quit now)\nstopped at a frame boundary: true\n",
        wholeFrames: true,
        torn: [],
      });
    });

    test("a second SIGINT exits 130 at once, without waiting for the frame", async () => {
      const r = await interrupt(["ready\n", "interrupted:"], "stuck-frame");
      expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({
        exitCode: 130,
        stderr: "log line\nready\ninterrupted: finishing the frame under way (Ctrl-C again to quit now)\n",
      });
    });
  });

  describe("without a spec, calling loadConfig itself", () => {
    test("runs with the config it loaded", async () => {
      expect(await recipe(["--strength", "0.25"], "", BARE_FIXTURE)).toEqual({ stdout: "strength 0.25\n", stderr: "starting\n", exitCode: 0 });
    });

    test("its usage errors exit 2, and --verbose and --quiet are known from argv", async () => {
      const [plain, quiet, verbose] = await Promise.all([
        recipe(["--strength", "2"], "", BARE_FIXTURE),
        recipe(["--quiet", "--strength", "2"], "", BARE_FIXTURE),
        recipe(["--verbose", "--strength", "2"], "", BARE_FIXTURE),
      ]);
      const verboseLines = verbose.stderr.trimEnd().split("\n");
      expect([plain, quiet, verboseLines.slice(0, 3), verbose.exitCode, verboseLines.slice(3).every((l) => /^\s+at /.test(l))]).toEqual([
        { stdout: "", stderr: "starting\nerror: --strength 2: must be from 0 to 1\n", exitCode: 2 },
        { stdout: "", stderr: "error: --strength 2: must be from 0 to 1\n", exitCode: 2 },
        ["starting", "debug: argv scanned for --verbose", "error: --strength 2: must be from 0 to 1"],
        2,
        true,
      ]);
    });
  });
});

describe("reportError", () => {
  function report(e: unknown, verbose: boolean) {
    const lines: string[] = [];
    const code = reportError(e, verbose, (l) => lines.push(l));
    return { code, lines };
  }

  test("gives a UsageError's exit code 2 and a hint on its own line", () => {
    expect(report(new UsageError("bad --x", "try --y"), false)).toEqual({ code: 2, lines: ["error: bad --x", "hint: try --y"] });
  });

  test("keeps only the first line of a foreign error's message unless verbose", () => {
    expect(report(new Error("ORT failed\nlong details"), false)).toEqual({
      code: 1,
      lines: ["error: ORT failed (run with --verbose for details)"],
    });
  });

  test("prints a thrown non-Error as text", () => {
    expect(report("just a string", false)).toEqual({ code: 1, lines: ["error: just a string (run with --verbose for details)"] });
  });

  test("with verbose follows the cause chain", () => {
    const e = new ModelError("cannot load unet", undefined);
    (e as { cause?: unknown }).cause = new Error("file truncated");
    const { lines } = report(e, true);
    expect(lines.filter((l) => !/^\s+at /.test(l))).toEqual(["error: cannot load unet", "caused by: Error: file truncated"]);
  });
});
