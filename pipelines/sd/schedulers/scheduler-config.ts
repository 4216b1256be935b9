/**
 * diffusers `scheduler_config.json` → the settings one scheduler kind uses. Missing keys take the
 * diffusers CLASS default of the chosen kind (Ref: reference/sd-onnx-layout.md §5: old SD configs have
 * no `timestep_spacing`, so DDIM gets "leading" and Euler/DPM get "linspace"). Unknown keys are ignored.
 */
import { UsageError } from "../../errors.ts";
import type { BetaSchedule } from "./noise-schedule.ts";
import type { TimestepSpacing } from "./timestep-spacing.ts";

export const SCHEDULER_KINDS = ["ddim", "euler", "euler-a", "dpm++2m", "dpm++2m-karras", "lcm"] as const;
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
  throw new UsageError(
    `scheduler_config.json names ${config._class_name ?? "no scheduler class"}, which latentloom does not implement; choose a scheduler: ${valid}`,
  );
}

function oneOf<T extends string>(key: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "string" && (choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`scheduler config ${key} = ${JSON.stringify(value)} is not supported; valid: ${choices.join(", ")}`);
}

function num(key: string, value: unknown, fallback: number, test: (v: number) => boolean, range: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "number" && Number.isFinite(value) && test(value)) return value;
  throw new UsageError(`scheduler config ${key} = ${JSON.stringify(value)} is invalid; expected ${range}`);
}

function bool(key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "boolean") return value;
  throw new UsageError(`scheduler config ${key} = ${JSON.stringify(value)} is invalid; expected true or false`);
}

function refuse(key: string, value: unknown): void {
  if (value === true) throw new UsageError(`scheduler config ${key} = true is not supported; set it to false`);
}

export function resolveSchedulerConfig(config: SchedulerConfig, kind: SchedulerKind): ResolvedSchedulerConfig {
  const isLcm = kind === "lcm";
  const isDdimFamily = kind === "ddim" || isLcm;
  refuse("thresholding", config.thresholding);
  refuse("rescale_betas_zero_snr", config.rescale_betas_zero_snr);
  oneOf("interpolation_type", config.interpolation_type, ["linear"], "linear");
  const positive = (v: number) => v > 0;
  const trained = config.trained_betas;
  if (trained !== undefined && trained !== null) {
    if (!Array.isArray(trained) || trained.length < 2 || !trained.every((b) => typeof b === "number" && b > 0 && b < 1)) {
      throw new UsageError("scheduler config trained_betas must be a list of numbers in (0, 1)");
    }
  }
  const numTrainTimesteps = num("num_train_timesteps", config.num_train_timesteps, 1000, (v) => Number.isInteger(v) && v >= 2, "an integer ≥ 2");
  return {
    numTrainTimesteps: trained ? trained.length : numTrainTimesteps,
    betaStart: num("beta_start", config.beta_start, isLcm ? 0.00085 : 0.0001, positive, "a number > 0"),
    betaEnd: num("beta_end", config.beta_end, isLcm ? 0.012 : 0.02, positive, "a number > 0"),
    betaSchedule: oneOf("beta_schedule", config.beta_schedule, ["linear", "scaled_linear", "squaredcos_cap_v2"], isLcm ? "scaled_linear" : "linear"),
    trainedBetas: trained ?? null,
    stepsOffset: num("steps_offset", config.steps_offset, 0, (v) => Number.isInteger(v) && v >= 0, "an integer ≥ 0"),
    setAlphaToOne: bool("set_alpha_to_one", config.set_alpha_to_one, true),
    // DDIMScheduler's class default is clip_sample = true; LCM's is false; the others have none.
    clipSample: isDdimFamily && bool("clip_sample", config.clip_sample, kind === "ddim"),
    clipSampleRange: num("clip_sample_range", config.clip_sample_range, 1, positive, "a number > 0"),
    predictionType: oneOf("prediction_type", config.prediction_type, ["epsilon", "v_prediction", "sample"], "epsilon"),
    timestepSpacing: oneOf("timestep_spacing", config.timestep_spacing, ["leading", "trailing", "linspace"], isDdimFamily ? "leading" : "linspace"),
    useKarrasSigmas: kind === "dpm++2m-karras" || (kind === "euler" && bool("use_karras_sigmas", config.use_karras_sigmas, false)),
    finalSigmasType: oneOf("final_sigmas_type", config.final_sigmas_type, ["zero", "sigma_min"], "zero"),
    sigmaMin: config.sigma_min == null ? null : num("sigma_min", config.sigma_min, 0, positive, "a number > 0"),
    sigmaMax: config.sigma_max == null ? null : num("sigma_max", config.sigma_max, 0, positive, "a number > 0"),
    originalInferenceSteps: num("original_inference_steps", config.original_inference_steps, 50, (v) => Number.isInteger(v) && v >= 1, "an integer ≥ 1"),
    timestepScaling: num("timestep_scaling", config.timestep_scaling, 10, positive, "a number > 0"),
    solverType: oneOf("solver_type", config.solver_type, ["midpoint", "heun"], "midpoint"),
    lowerOrderFinal: bool("lower_order_final", config.lower_order_final, true),
    eulerAtFinal: bool("euler_at_final", config.euler_at_final, false),
  };
}
