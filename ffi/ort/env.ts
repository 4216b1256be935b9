import type { Pointer } from "../native/index.ts";
import { ortApi } from "./api.ts";
import { OrtError, OrtErrorCode } from "./errors.ts";
import { check } from "./status.ts";
import { outSlot, readOutPointer } from "./native-memory.ts";

/** ORT's log severities, lowest first. */
export const LOG_LEVELS = ["verbose", "info", "warning", "error", "fatal"] as const;
export type OrtLogLevel = (typeof LOG_LEVELS)[number];

/** OrtAllocatorType / OrtMemType values. */
const ARENA_ALLOCATOR = 1;
const MEM_TYPE_DEFAULT = 0;

let env = 0 as Pointer;
let envLevel: OrtLogLevel | undefined;
let spinning = process.env.LATENTLOOM_ORT_SPIN !== "0";

/**
 * The process-wide OrtEnv, created on first use. ORT keeps one Env per process and ignores the
 * arguments of later creations, so the first caller's log level wins; the default is
 * `LATENTLOOM_ORT_LOG_LEVEL` or "warning". It lives until the process exits: sessions may
 * outlive any one user of it.
 *
 * The Env owns one intra-op thread pool (one thread per physical core) that sessions created
 * with `sharedThreadPool` use instead of pools of their own: a UNet cut into a dozen segments
 * would otherwise hold a dozen pools whose idle threads compete for the cores.
 */
export function ortEnv(logLevel?: OrtLogLevel): Pointer {
  if (env) return env;
  const level = logLevel ?? parseLevel(process.env.LATENTLOOM_ORT_LOG_LEVEL) ?? "warning";
  const api = ortApi();
  check(api.CreateThreadingOptions(outSlot()));
  const threading = readOutPointer();
  try {
    check(api.SetGlobalIntraOpNumThreads(threading, 0));
    check(api.SetGlobalSpinControl(threading, spinning ? 1 : 0));
    check(api.CreateEnvWithGlobalThreadPools(LOG_LEVELS.indexOf(level), "latentloom", threading, outSlot()));
  } finally {
    api.ReleaseThreadingOptions(threading);
  }
  env = readOutPointer();
  envLevel = level;
  return env;
}

/**
 * Whether the shared pool's threads busy-wait between runs (default on; `LATENTLOOM_ORT_SPIN=0`
 * turns it off). Spinning makes back-to-back runs faster (8-step txt2img on tiny: 0.45 s vs
 * 0.60 s here) but steals the cores from CPU kernels that run between them (attention
 * interpolation's blends: 0.60 s vs 0.17 s per frame). Only takes effect before the Env exists;
 * returns whether it did.
 */
export function setThreadSpinning(on: boolean): boolean {
  if (env) return false;
  spinning = on;
  return true;
}

let sharedArena = false;

/**
 * Registers one CPU arena on the Env (once per process), for sessions created with
 * `sharedCpuArena`. A cut UNet's segments each have an arena of their own otherwise, so every
 * segment's intermediates sit in different memory and go cold between its runs; with one shared
 * arena, the next segment's intermediates reuse the memory the last one just freed, as inside
 * one session (seven 16 MiB attention segments: 33 ms in their own arenas, 25 ms shared, the
 * same as seven runs of one session).
 */
export function registerSharedCpuArena(): void {
  if (sharedArena) return;
  const api = ortApi();
  const environment = ortEnv();
  check(api.CreateCpuMemoryInfo(ARENA_ALLOCATOR, MEM_TYPE_DEFAULT, outSlot()));
  const memoryInfo = readOutPointer();
  try {
    check(api.CreateAndRegisterAllocator(environment, memoryInfo, null));
  } finally {
    api.ReleaseMemoryInfo(memoryInfo);
  }
  sharedArena = true;
}

/** The log level the Env was created with (undefined before it exists). */
export function ortEnvLogLevel(): OrtLogLevel | undefined {
  return envLevel;
}

function parseLevel(value: string | undefined): OrtLogLevel | undefined {
  if (!value) return undefined;
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as OrtLogLevel;
  throw new OrtError(
    OrtErrorCode.INVALID_ARGUMENT,
    `LATENTLOOM_ORT_LOG_LEVEL=${value} is not a log level; use one of ${LOG_LEVELS.join(", ")}`,
  );
}
