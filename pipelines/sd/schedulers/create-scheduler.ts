/**
 * The factory: a diffusers scheduler config (+ an optional explicit kind) → a Scheduler.
 * Dispatch is a table, one entry per kind.
 */
import { UsageError } from "../../errors.ts";
import { DdimScheduler } from "./ddim.ts";
import { DpmSolverScheduler } from "./dpm-solver.ts";
import { EulerAncestralScheduler, EulerScheduler } from "./euler.ts";
import { LcmScheduler } from "./lcm.ts";
import { PndmScheduler } from "./pndm.ts";
import type { Scheduler } from "./scheduler.ts";
import {
  resolveSchedulerConfig,
  resolveSchedulerKind,
  type ResolvedSchedulerConfig,
  type SchedulerConfig,
  type SchedulerKind,
} from "./scheduler-config.ts";

export interface CreateSchedulerOptions {
  /** DDIM η (default 0); other kinds refuse a non-zero η. */
  eta?: number;
}

const CONSTRUCTORS: Record<SchedulerKind, (c: ResolvedSchedulerConfig, o: CreateSchedulerOptions) => Scheduler> = {
  ddim: (c, o) => new DdimScheduler(c, o.eta ?? 0),
  pndm: (c) => new PndmScheduler(c),
  euler: (c) => new EulerScheduler(c),
  "euler-a": (c) => new EulerAncestralScheduler(c),
  "dpm++2m": (c) => new DpmSolverScheduler(c),
  "dpm++2m-karras": (c) => new DpmSolverScheduler(c),
  lcm: (c) => new LcmScheduler(c),
};

/**
 * `kind` ("ddim" | "pndm" | "euler" | "euler-a" | "dpm++2m" | "dpm++2m-karras" | "lcm") overrides the
 * config's `_class_name`; an unknown kind is a UsageError listing the valid ones.
 */
export function createScheduler(
  config: SchedulerConfig,
  kind?: string,
  options: CreateSchedulerOptions = {},
): Scheduler {
  const resolvedKind = resolveSchedulerKind(config, kind);
  if (options.eta !== undefined && options.eta !== 0 && resolvedKind !== "ddim") {
    throw new UsageError(`eta applies to the ddim scheduler only, not ${resolvedKind}`);
  }
  return CONSTRUCTORS[resolvedKind](resolveSchedulerConfig(config, resolvedKind), options);
}
