/**
 * diffusers `scheduler_config.json` → the settings one scheduler kind uses. Missing keys take the
 * diffusers CLASS default of the chosen kind (Ref: reference/sd-onnx-layout.md §5: old SD configs have
 * no `timestep_spacing`, so DDIM gets "leading" and Euler/DPM get "linspace"). Unknown keys are ignored.
 */
import { UsageError } from "../../errors.ts";
import type { BetaSchedule } from "./noise-schedule.ts";
import type { TimestepSpacing } from "./timestep-spacing.ts";

export const SCHEDULER_KINDS = ["ddim", "pndm", "euler", "euler-a", "dpm++2m", "dpm++2m-karras", "lcm"] as const;
export type SchedulerKind = (typeof SCHEDULER_KINDS)[number];
export type PredictionType = "epsilon" | "v_prediction" | "sample";

/** The keys of a diffusers scheduler config that latentloom reads (snake_case, as in the JSON). */
export interface SchedulerConfig {
  _class_name?: string;
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: string;
  trained_betas?: readonly number[] | null;
  steps_offset?: number;
  set_alpha_to_one?: boolean;
  clip_sample?: boolean;
  clip_sample_range?: number;
  prediction_type?: string;
  timestep_spacing?: string;
  use_karras_sigmas?: boolean;
  interpolation_type?: string;
  final_sigmas_type?: string;
  sigma_min?: number | null;
  sigma_max?: number | null;
  original_inference_steps?: number;
  timestep_scaling?: number;
  solver_type?: string;
  lower_order_final?: boolean;
  euler_at_final?: boolean;
  thresholding?: boolean;
  rescale_betas_zero_snr?: boolean;
  [key: string]: unknown;
}

export interface ResolvedSchedulerConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  trainedBetas: readonly number[] | null;
  stepsOffset: number;
  setAlphaToOne: boolean;
  clipSample: boolean;
  clipSampleRange: number;
  predictionType: PredictionType;
  timestepSpacing: TimestepSpacing;
  useKarrasSigmas: boolean;
  finalSigmasType: "zero" | "sigma_min";
  sigmaMin: number | null;
  sigmaMax: number | null;
  originalInferenceSteps: number;
  timestepScaling: number;
  solverType: "midpoint" | "heun";
  lowerOrderFinal: boolean;
  eulerAtFinal: boolean;
}

const CLASS_KINDS: Record<string, (config: SchedulerConfig) => SchedulerKind> = {
  DDIMScheduler: () => "ddim",
  PNDMScheduler: () => "pndm",
  EulerDiscreteScheduler: () => "euler",
  EulerAncestralDiscreteScheduler: () => "euler-a",
  DPMSolverMultistepScheduler: (c) => (c.use_karras_sigmas === true ? "dpm++2m-karras" : "dpm++2m"),
  LCMScheduler: () => "lcm",
};

/** `kind` if given (validated), else the kind of the config's `_class_name`. */
export function resolveSchedulerKind(config: SchedulerConfig, kind?: string): SchedulerKind {
  const valid = SCHEDULER_KINDS.join(", ");
  if (kind !== undefined) {
    if ((SCHEDULER_KINDS as readonly string[]).includes(kind)) return kind as SchedulerKind;
    throw new UsageError(`unknown scheduler "${kind}"; valid: ${valid}`);
  }
  const fromClass = config._class_name === undefined ? undefined : CLASS_KINDS[config._class_name];
  if (fromClass) return fromClass(config);
  const named = config._class_name ?? "no scheduler class";
  throw new UsageError(
    `scheduler_config.json names ${named}, which latentloom does not implement; choose a scheduler: ${valid}`,
  );
}

function oneOf<T extends string>(key: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "string" && (choices as readonly string[]).includes(value)) return value as T;
  const shown = JSON.stringify(value);
  throw new UsageError(`scheduler config ${key} = ${shown} is not supported; valid: ${choices.join(", ")}`);
}

function invalid(key: string, value: unknown, expected: string): UsageError {
  return new UsageError(`scheduler config ${key} = ${JSON.stringify(value)} is invalid; expected ${expected}`);
}

function positive(key: string, value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  throw invalid(key, value, "a number > 0");
}

function integerAtLeast(key: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "number" && Number.isInteger(value) && value >= min) return value;
  throw invalid(key, value, `an integer ≥ ${min}`);
}

function bool(key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "boolean") return value;
  throw invalid(key, value, "true or false");
}

function refuse(key: string, value: unknown): void {
  if (value === true) throw new UsageError(`scheduler config ${key} = true is not supported; set it to false`);
}

function trainedBetas(value: unknown): readonly number[] | null {
  if (value === undefined || value === null) return null;
  const ok = Array.isArray(value) && value.length >= 2 && value.every((b) => typeof b === "number" && b > 0 && b < 1);
  if (!ok) throw new UsageError("scheduler config trained_betas must be a list of at least 2 numbers in (0, 1)");
  return value as number[];
}

export function resolveSchedulerConfig(config: SchedulerConfig, kind: SchedulerKind): ResolvedSchedulerConfig {
  const isLcm = kind === "lcm";
  const isDdimFamily = kind === "ddim" || isLcm;
  const leadingByDefault = isDdimFamily || kind === "pndm";
  refuse("thresholding", config.thresholding);
  refuse("rescale_betas_zero_snr", config.rescale_betas_zero_snr);
  oneOf("interpolation_type", config.interpolation_type, ["linear"], "linear");
  const trained = trainedBetas(config.trained_betas);
  const numTrainTimesteps = integerAtLeast("num_train_timesteps", config.num_train_timesteps, 2, 1000);
  const c = config;
  return {
    numTrainTimesteps: trained ? trained.length : numTrainTimesteps,
    betaStart: positive("beta_start", c.beta_start, isLcm ? 0.00085 : 0.0001),
    betaEnd: positive("beta_end", c.beta_end, isLcm ? 0.012 : 0.02),
    betaSchedule: oneOf(
      "beta_schedule",
      c.beta_schedule,
      ["linear", "scaled_linear", "squaredcos_cap_v2"],
      isLcm ? "scaled_linear" : "linear",
    ),
    trainedBetas: trained,
    stepsOffset: integerAtLeast("steps_offset", c.steps_offset, 0, 0),
    // PNDMScheduler's class default is false; the others' is true
    setAlphaToOne: bool("set_alpha_to_one", c.set_alpha_to_one, kind !== "pndm"),
    // DDIMScheduler's class default is clip_sample = true; LCM's is false; the others have none.
    clipSample: isDdimFamily && bool("clip_sample", c.clip_sample, kind === "ddim"),
    clipSampleRange: positive("clip_sample_range", c.clip_sample_range, 1),
    predictionType: oneOf("prediction_type", c.prediction_type, ["epsilon", "v_prediction", "sample"], "epsilon"),
    timestepSpacing: oneOf(
      "timestep_spacing",
      c.timestep_spacing,
      ["leading", "trailing", "linspace"],
      leadingByDefault ? "leading" : "linspace",
    ),
    // The kind decides for DPM (dpm++2m vs dpm++2m-karras); Euler follows the config.
    useKarrasSigmas:
      kind === "dpm++2m-karras" || (kind === "euler" && bool("use_karras_sigmas", c.use_karras_sigmas, false)),
    finalSigmasType: oneOf("final_sigmas_type", c.final_sigmas_type, ["zero", "sigma_min"], "zero"),
    sigmaMin: c.sigma_min == null ? null : positive("sigma_min", c.sigma_min, 0),
    sigmaMax: c.sigma_max == null ? null : positive("sigma_max", c.sigma_max, 0),
    originalInferenceSteps: integerAtLeast("original_inference_steps", c.original_inference_steps, 1, 50),
    timestepScaling: positive("timestep_scaling", c.timestep_scaling, 10),
    solverType: oneOf("solver_type", c.solver_type, ["midpoint", "heun"], "midpoint"),
    lowerOrderFinal: bool("lower_order_final", c.lower_order_final, true),
    eulerAtFinal: bool("euler_at_final", c.euler_at_final, false),
  };
}
