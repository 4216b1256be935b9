import { describe, expect, test } from "bun:test";
import { UsageError } from "../../../../pipelines/errors.ts";
import { createScheduler, SCHEDULER_KINDS, type SchedulerConfig, type SchedulerKind } from "../../../../pipelines/sd/schedulers/index.ts";

// Config keys and class defaults: /work/shared/reference/sd-onnx-layout.md §5, schedulers.md §2.
const SD15_CONFIG = {
  _class_name: "PNDMScheduler",
  _diffusers_version: "0.6.0",
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

describe("createScheduler", () => {
  describe("given an explicit kind", () => {
    for (const kind of SCHEDULER_KINDS) {
      test(`builds a ${kind} scheduler from the SD 1.5 config`, () => {
        const s = createScheduler(SD15_CONFIG, kind);
        expect(s.kind).toBe(kind);
        expect(s.alphasCumprod[999]).toBeCloseTo(0.004660098513, 9);
      });
    }
  });

  describe("given an unknown kind", () => {
    test("throws a UsageError naming the valid choices", () => {
      expect(() => createScheduler(SD15_CONFIG, "heun")).toThrow(UsageError);
      expect(() => createScheduler(SD15_CONFIG, "heun")).toThrow(
        'unknown scheduler "heun"; valid: ddim, pndm, euler, euler-a, dpm++2m, dpm++2m-karras, lcm',
      );
    });
  });

  describe("given no kind", () => {
    const cases: [string, SchedulerConfig, SchedulerKind][] = [
      ["DDIMScheduler", {}, "ddim"],
      ["EulerDiscreteScheduler", {}, "euler"],
      ["EulerAncestralDiscreteScheduler", {}, "euler-a"],
      ["DPMSolverMultistepScheduler", {}, "dpm++2m"],
      ["DPMSolverMultistepScheduler", { use_karras_sigmas: true }, "dpm++2m-karras"],
      ["LCMScheduler", {}, "lcm"],
    ];
    for (const [className, extra, kind] of cases) {
      test(`maps ${className}${Object.keys(extra).length ? " with Karras sigmas" : ""} to ${kind}`, () => {
        expect(createScheduler({ ...SD15_CONFIG, ...extra, _class_name: className }).kind).toBe(kind);
      });
    }

    test("maps SD 1.x's PNDMScheduler to pndm, with its class defaults (leading, no set_alpha_to_one)", () => {
      const s = createScheduler({ _class_name: "PNDMScheduler" });
      expect([s.kind, s.config.timestepSpacing, s.config.setAlphaToOne]).toEqual(["pndm", "leading", false]);
      expect(createScheduler(SD15_CONFIG).kind).toBe("pndm");
    });

    test("refuses a class it does not implement, listing the kinds to choose from", () => {
      expect(() => createScheduler({ ...SD15_CONFIG, _class_name: "HeunDiscreteScheduler" })).toThrow(
        /names HeunDiscreteScheduler, which latentloom does not implement; choose a scheduler: ddim, pndm, euler/,
      );
    });
  });

  describe("given a config without timestep_spacing", () => {
    test("uses each class's default: leading for DDIM, linspace for Euler and DPM", () => {
      expect(createScheduler(SD15_CONFIG, "ddim").config.timestepSpacing).toBe("leading");
      expect(createScheduler(SD15_CONFIG, "euler").config.timestepSpacing).toBe("linspace");
      expect(createScheduler(SD15_CONFIG, "dpm++2m").config.timestepSpacing).toBe("linspace");
    });

    test("uses the class beta defaults when the config has none (linear 1e-4…0.02; LCM scaled_linear)", () => {
      const ddim = createScheduler({}, "ddim");
      expect(ddim.config.betaSchedule).toBe("linear");
      expect(ddim.alphasCumprod[0]).toBeCloseTo(0.9999, 12);
      expect(createScheduler({}, "lcm").config.betaSchedule).toBe("scaled_linear");
    });
  });

  describe("given trained_betas", () => {
    test("uses them instead of the schedule", () => {
      const s = createScheduler({ trained_betas: [0.1, 0.2, 0.3, 0.4] }, "ddim");
      expect(s.config.numTrainTimesteps).toBe(4);
      expect(s.alphasCumprod[3]).toBeCloseTo(0.9 * 0.8 * 0.7 * 0.6, 12);
    });
  });

  describe("given a bad config value", () => {
    test("names the key and the valid choices", () => {
      expect(() => createScheduler({ prediction_type: "flow" }, "euler")).toThrow(
        'scheduler config prediction_type = "flow" is not supported; valid: epsilon, v_prediction, sample',
      );
      expect(() => createScheduler({ timestep_spacing: "karras" }, "ddim")).toThrow(/valid: leading, trailing, linspace/);
      expect(() => createScheduler({ beta_schedule: "sigmoid" }, "ddim")).toThrow(UsageError);
      expect(() => createScheduler({ steps_offset: -1 }, "ddim")).toThrow(/steps_offset = -1 is invalid/);
    });

    test("refuses features it does not implement", () => {
      expect(() => createScheduler({ thresholding: true }, "ddim")).toThrow(/thresholding = true is not supported/);
      expect(() => createScheduler({ rescale_betas_zero_snr: true }, "euler")).toThrow(UsageError);
      expect(() => createScheduler({ interpolation_type: "log_linear" }, "euler")).toThrow(/interpolation_type/);
    });

    test("refuses eta for schedulers other than DDIM, and a negative eta", () => {
      expect(() => createScheduler(SD15_CONFIG, "euler", { eta: 0.5 })).toThrow(/eta applies to the ddim scheduler only/);
      expect(() => createScheduler(SD15_CONFIG, "ddim", { eta: -1 })).toThrow(/eta must be a number ≥ 0/);
    });
  });

  describe("the scheduler it returns", () => {
    test("refuses a bad step count or strength", () => {
      const s = createScheduler(SD15_CONFIG, "euler");
      expect(() => s.setTimesteps(0)).toThrow("steps must be an integer in [1, 1000], got 0");
      expect(() => s.setTimesteps(20, { strength: 1.5 })).toThrow("strength must be in (0, 1], got 1.5");
    });

    test("refuses step indices outside the schedule, and stepping before setTimesteps", () => {
      const s = createScheduler(SD15_CONFIG, "ddim");
      const x = Float32Array.of(1);
      const ops = { combine: (t: ReadonlyArray<readonly [number, Float32Array]>) => t[0]![1] };
      expect(() => s.step(ops, x, 0, x)).toThrow(/call setTimesteps before stepping/);
      s.setTimesteps(10);
      expect(() => s.step(ops, x, 10, x)).toThrow(/step index 10 is outside \[0, 9\]/);
    });

    test("is left without a schedule when setTimesteps fails", () => {
      const s = createScheduler(SD15_CONFIG, "ddim");
      s.setTimesteps(10);
      expect(() => s.setTimesteps(10, { strength: 0.05 })).toThrow(/use strength ≥ 0.1 or more steps/);
      expect(s.timesteps).toEqual([]);
      expect(() => s.needsNoise(0)).toThrow(/call setTimesteps before stepping/);
    });

    test("returns a copy of its timesteps", () => {
      const s = createScheduler(SD15_CONFIG, "ddim");
      const { timesteps } = s.setTimesteps(10);
      timesteps[0] = -5;
      expect(s.timesteps[0]).toBe(901);
    });
  });
});
