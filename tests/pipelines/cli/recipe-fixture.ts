/**
 * A recipe for the CLI tests, spawned by run-recipe.test.ts. FIXTURE_MODE picks what its body
 * does; FIXTURE_CONFIG_DIR stands in for configs/.
 */
import { ModelError } from "../../../pipelines/errors.ts";
import { runRecipe } from "../../../pipelines/cli/run-recipe.ts";
import { defineSchema, field } from "../../../pipelines/cli/schema.ts";

const schema = defineSchema({
  prompt: field.string({ description: "what to draw", default: "a lighthouse" }),
  negative_prompt: field.string({ description: "what to avoid", default: "" }),
  steps: field.number({ description: "denoising steps", default: 20, integer: true, min: 1, max: 500 }),
  guidance: field.number({ description: "classifier-free guidance scale", default: 7.5, min: 0 }),
  size: field.size({ description: "output size", default: "512x512", step: 8 }),
  scheduler: field.enum(["ddim", "euler"], { description: "sampler", default: "euler" }),
  seed: field.number({ description: "noise seed; none picks one", integer: true, nullable: true }),
  tiling: field.boolean({ description: "seamless tiling" }),
  prompts: field.strings({ description: "prompts to blend", default: [] }),
  weights: field.numbers({ description: "per-prompt weights", default: [1], min: 0 }),
});

const mode = process.env.FIXTURE_MODE ?? "print-config";
const FRAME = 4096;

/** A frame whose every byte says its index, so a torn frame shows up. */
function frame(i: number): Uint8Array {
  return new Uint8Array(FRAME).fill(i % 251);
}

await runRecipe(
  { recipe: "fixture", schema, configDir: process.env.FIXTURE_CONFIG_DIR, description: "A recipe for tests." },
  async (ctx) => {
    ctx.log("log line");
    ctx.debug("debug line");
    if (mode === "print-config") {
      process.stdout.write(JSON.stringify({ config: ctx.config, verbose: ctx.verbose, quiet: ctx.quiet }) + "\n");
    } else if (mode === "throw-model") {
      throw new ModelError("model folder /m has no unet/model.onnx", "export one with optimum-cli");
    } else if (mode === "throw-plain") {
      throw new TypeError("cannot read properties of undefined");
    } else if (mode === "stray-rejection") {
      void Promise.reject(new Error("stray failure"));
      await new Promise((resolve) => setImmediate(resolve));
    } else if (mode === "frames-await") {
      // A sink that awaits its write, as a careful frame writer does: EPIPE surfaces here.
      const out = Bun.stdout.writer();
      for (let i = 0; i < 1_000_000 && !ctx.interrupted(); i++) {
        await out.write(frame(i));
        await out.flush();
      }
    } else if (mode === "frames-unawaited") {
      // Fire-and-forget writes: a closed pipe only shows as an unhandled rejection.
      const out = Bun.stdout.writer();
      for (let i = 0; i < 1_000_000 && !ctx.interrupted(); i++) {
        void out.write(frame(i));
        await out.flush();
        await new Promise((resolve) => setImmediate(resolve));
      }
    } else if (mode === "stuck-frame") {
      // A frame that never finishes: it waits on stdin, which the test keeps open.
      process.stderr.write("ready\n");
      await Bun.stdin.text();
    } else if (mode === "frames-until-sigint") {
      // Tells the test (stderr) it may send SIGINT once the handler is surely installed.
      const out = Bun.stdout.writer();
      let i = 0;
      for (; i < 1_000_000 && !ctx.interrupted(); i++) {
        await out.write(frame(i));
        await out.flush();
        if (i === 2) process.stderr.write("ready\n");
        await new Promise((resolve) => setImmediate(resolve));
      }
      process.stderr.write(`stopped at a frame boundary: ${ctx.interrupted()}\n`);
    }
  },
);
