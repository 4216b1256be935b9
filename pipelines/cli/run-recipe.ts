/**
 * The top level of every recipe: reads the config, runs the recipe's body and turns whatever
 * happens into a clean exit.
 *
 * - LatentloomError: `error: <message>` (and `hint: <hint>`) on stderr, exit with its exitCode.
 * - any other error: `error: <message> (run with --verbose for details)`, exit 1.
 * - --verbose adds the stack; it is read from argv directly, so it works when parsing failed.
 * - SIGINT: `ctx.signal` aborts and `ctx.interrupted()` turns true; the body stops between frames
 *   (a write under way finishes, so every frame out is whole) and the process exits 130.
 *   A second SIGINT exits at once. SIGTERM does the same with exit code 143.
 * - stdout closed by its reader (`| head`): the same abort, then a quiet exit 0.
 *
 *   runRecipe({ recipe: "txt2img", schema }, async ({ config, log, signal }) => { … });
 */
import { LatentloomError, UsageError } from "../errors.ts";
import { type FrameSinkOptions, OUTPUT_FORMATS, type OutputFormat, outputPath } from "../io/frame-sink.ts";
import { createProgress, type Progress } from "../io/progress.ts";
import { loadConfig, type LoadConfigOptions } from "./config.ts";
import { hasFlag } from "./flags.ts";
import { provenance } from "./provenance.ts";
import { createLogger, writeStderr } from "./log.ts";
import type { InferConfig, Schema } from "./schema.ts";

export interface RecipeContext {
  readonly verbose: boolean;
  readonly quiet: boolean;
  /** Aborts on SIGINT or when stdout's reader has gone; pass it on, or check it between frames. */
  readonly signal: AbortSignal;
  /**
   * True once the run should stop: `if (interrupted()) break;` between frames. A function, not a
   * getter, so that destructuring the context keeps it live.
   */
  interrupted(): boolean;
  /** A line on stderr, unless --quiet. */
  log(...args: unknown[]): void;
  /** A line on stderr, only with --verbose. */
  debug(...args: unknown[]): void;
  /** Progress on stderr as --progress and --quiet say (a bar, plain lines, or JSON lines). */
  progress(o: { label: string; total?: number }): Progress;
}

export interface ConfiguredContext<S extends Schema, O = undefined> extends RecipeContext {
  readonly config: InferConfig<S>;
  /** The job's typed options made from the config by the spec's `options` (undefined without one). */
  readonly options: O;
  /** Non-flag arguments; always empty unless the spec sets allowPositionals. */
  readonly positionals: readonly string[];
  /** For openFrameSink: the --format asked for and how the output was made (its config). */
  readonly output: FrameSinkOptions;
  /** The YAML file the config came from, null when none was read. */
  readonly configFile: string | null;
}

export interface RecipeSpec<S extends Schema, O = undefined> extends LoadConfigOptions {
  schema: S;
  /** Turns the flat config into the job's typed options, so the recipe body reads no raw keys. */
  options?: (config: InferConfig<S>) => O;
}

/** A recipe's command-line face, kept in pipelines/cli/recipes/ so that tests and --help share it. */
export function defineRecipe<const S extends Schema, O = undefined>(spec: RecipeSpec<S, O>): RecipeSpec<S, O> {
  return spec;
}

type Body<C> = (ctx: C) => Promise<void> | void;

/** Runs `main` with the parsed config in its context, then exits as described above. */
export function runRecipe<const S extends Schema, O>(spec: RecipeSpec<S, O>, main: Body<ConfiguredContext<S, O>>): Promise<void>;
/** Runs `main` with logging and interruption only (a recipe that calls loadConfig itself). */
export function runRecipe(main: Body<RecipeContext>): Promise<void>;
export function runRecipe<S extends Schema, O>(
  a: RecipeSpec<S, O> | Body<RecipeContext>,
  b?: Body<ConfiguredContext<S, O>>,
): Promise<void> {
  return typeof a === "function" ? run(undefined, a) : run(a, b as Body<RecipeContext>);
}

type Stop = "sigint" | "sigterm" | "epipe";
/** The shell's convention: 128 + the signal's number. */
const SIGNAL_EXIT = { sigint: 130, sigterm: 143 } as const;

async function run<S extends Schema, O>(spec: RecipeSpec<S, O> | undefined, main: Body<never>): Promise<void> {
  const argv = spec?.argv ?? process.argv.slice(2);
  let verbose = hasFlag(argv, "verbose");
  const controller = new AbortController();
  let stop: Stop | undefined;
  let quiet = hasFlag(argv, "quiet");

  const halt = (why: Stop, message: string) => {
    if (stop !== undefined) return;
    stop = why;
    controller.abort(new DOMException(message, "AbortError"));
  };
  const onSignal = (why: "sigint" | "sigterm") => () => {
    if (stop === why) process.exit(SIGNAL_EXIT[why]);
    if (!quiet) writeStderr(`${why === "sigint" ? "interrupted" : "terminated"}: finishing the frame under way (${why === "sigint" ? "Ctrl-C" : "the signal"} again to quit now)`);
    halt(why, why === "sigint" ? "interrupted" : "terminated");
  };
  const onSigint = onSignal("sigint");
  const onSigterm = onSignal("sigterm");
  // Bun reports a failed write to a closed stdout as a rejection nobody awaited, so the
  // closed pipe is noticed here rather than where the frame was written.
  const onStray = (e: unknown) => {
    if (isBrokenPipe(e)) return halt("epipe", "stdout was closed");
    finish(reportError(e, verbose));
  };
  const onStdoutError = (e: unknown) => onStray(e);
  const detach = () => {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
    process.off("unhandledRejection", onStray);
    process.off("uncaughtException", onStray);
    process.stdout.off("error", onStdoutError);
  };
  const finish = (code: number): never => {
    detach();
    process.exit(code);
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  process.on("unhandledRejection", onStray);
  process.on("uncaughtException", onStray);
  process.stdout.on("error", onStdoutError);

  try {
    let extra: object = {};
    let progressFormat: "text" | "json" = "text";
    if (spec) {
      const loaded = loadConfig(spec.schema, { ...spec, argv });
      ({ verbose, quiet } = loaded);
      progressFormat = loaded.progress;
      const options = spec.options?.(loaded.config);
      const format = outputFormat(loaded.format);
      // A --format that contradicts --out is a usage error now, not after the models have loaded.
      const out = (loaded.config as Record<string, unknown>).out;
      if (typeof out === "string") outputPath(out, format);
      const output: FrameSinkOptions = {
        format,
        metadata: provenance(spec.recipe, spec.schema, loaded.config as Record<string, unknown>),
      };
      extra = { config: loaded.config, options, output, positionals: loaded.positionals, configFile: loaded.configFile };
    }
    const { log, debug } = createLogger({ verbose, quiet });
    const signal = controller.signal;
    const ctx: RecipeContext = {
      ...extra,
      verbose,
      quiet,
      log,
      debug,
      // --progress json is for a wrapping tool: it speaks even under --quiet.
      progress: (o) => createProgress({ ...o, quiet: quiet && progressFormat === "text", format: progressFormat }),
      signal,
      interrupted: () => signal.aborted,
    };
    await main(ctx as never);
  } catch (e) {
    if (isBrokenPipe(e)) halt("epipe", "stdout was closed");
    // An abort we caused is how the body stops, not a failure.
    else if (!(stop !== undefined && isAbort(e, controller.signal))) finish(reportError(e, verbose));
  }
  // Rejections nobody awaited (a failed stdout write among them) are reported on a later
  // turn of the event loop; give them that turn while our handlers are still listening.
  await new Promise((resolve) => setImmediate(resolve));
  if (stop === "sigint" || stop === "sigterm") finish(SIGNAL_EXIT[stop]);
  if (stop === "epipe") finish(0);
  detach();
}

function outputFormat(given: string | undefined): OutputFormat | null {
  if (given === undefined) return null;
  if ((OUTPUT_FORMATS as readonly string[]).includes(given)) return given as OutputFormat;
  throw new UsageError(`--format ${given}: must be one of ${OUTPUT_FORMATS.join(", ")}`);
}

function isBrokenPipe(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "EPIPE";
}

function isAbort(e: unknown, signal: AbortSignal): boolean {
  return e === signal.reason || (typeof e === "object" && e !== null && (e as { name?: unknown }).name === "AbortError");
}

/** Prints the error as the module comment says and returns the exit code to use. */
export function reportError(error: unknown, verbose: boolean, write = writeStderr): number {
  const e = rootCause(error);
  if (e instanceof LatentloomError) {
    write(`error: ${e.message}`);
    if (e.hint) write(`hint: ${e.hint}`);
    if (verbose) writeStack(e, write);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  const [first = "", ...rest] = message.split("\n");
  write(`error: ${first}${verbose ? "" : " (run with --verbose for details)"}`);
  if (verbose) {
    for (const line of rest) write(line);
    writeStack(e, write);
  }
  return 1;
}

/**
 * The error that started it. A failure inside `using`/`await using` whose cleanup fails too
 * arrives as a SuppressedError (empty message) wrapping the original: report the original.
 */
function rootCause(e: unknown): unknown {
  let cur = e;
  for (let depth = 0; depth < 8 && typeof SuppressedError !== "undefined" && cur instanceof SuppressedError; depth++) cur = cur.suppressed;
  return cur;
}

function writeStack(e: unknown, write: (line: string) => void): void {
  let cur: unknown = e;
  for (let depth = 0; cur instanceof Error && depth < 5; depth++) {
    if (depth > 0) write(`caused by: ${cur.name}: ${cur.message}`);
    const frames = (cur.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
    for (const f of frames) write(f);
    cur = cur.cause;
  }
}
