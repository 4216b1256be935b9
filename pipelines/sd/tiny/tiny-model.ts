/**
 * The embedded default model `tiny` (and `tiny-controlnet`): built from a fixed seed into the
 * model cache on first use, in the optimum layout (reference/sd-onnx-layout.md §1.2).
 *
 *   const dir = await ensureTinyModel();                  // …/models/tiny-<hash>/
 *   const cn = await ensureTinyModel("tiny-controlnet");  // unet takes residuals, plus controlnet/
 *   const inp = await ensureTinyModel("tiny-inpaint");    // 9-channel unet (latents, mask, masked latents)
 *   const up = await ensureTinyModel("tiny-upscaler");    // SD x4 upscaler shape (upscaler.ts)
 *   const video = await ensureTinyModel("tiny-video");    // video UNet with per-frame timesteps (video/)
 *   const cont = await ensureTinyModel("tiny-continuation");   // ContinuitySeq UNet, conditioning frames (continuation/)
 *
 * The folder name hashes the builder version and the seed, so a change to any weight recipe
 * (bump TINY_BUILDER_VERSION) lands in a new folder and never mixes with an old build. Builds go
 * to a temporary folder that is renamed into place, so concurrent processes never see half a model.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../../../ffi/cache-dir.ts";
import { UsageError } from "../../errors.ts";
import { Rng } from "../random.ts";
import { startTinyFolder, writeJson } from "./folder-writer.ts";
import { buildTinyControlNetNet } from "./controlnet.ts";
import {
  CONTROLNET_CONFIG,
  INPAINT_MODEL_INDEX,
  INPAINT_UNET_CONFIG,
  modelIndex,
  SCHEDULER_CONFIG,
  TEXT_ENCODER_CONFIG,
  UNET_CONFIG,
  UPSCALER_LOW_RES_SCHEDULER_CONFIG,
  UPSCALER_MODEL_INDEX,
  UPSCALER_SCHEDULER_CONFIG,
  UPSCALER_UNET_CONFIG,
  UPSCALER_VAE_CONFIG,
  VAE_CONFIG,
} from "./model-configs.ts";
import { buildTinyTextEncoderNet } from "./text-encoder.ts";
import { buildTinyUnetNet } from "./unet.ts";
import { buildTinyUpscalerUnetNet, buildTinyUpscalerVaeDecoderNet } from "./upscaler.ts";
import { buildTinyVaeDecoderNet, buildTinyVaeEncoderNet } from "./vae.ts";
import { TINY_VIDEO_BUILDER_VERSION, writeTinyVideoModelFolder } from "./video/folder.ts";
import { TINY_CONTINUATION_BUILDER_VERSION, writeTinyContinuationModelFolder } from "./continuation/folder.ts";

/** Bump whenever any builder would write different bytes. */
export const TINY_BUILDER_VERSION = "2";
export const TINY_SEED = 1234;
export const TINY_VARIANTS = ["tiny", "tiny-controlnet", "tiny-inpaint", "tiny-upscaler", "tiny-video", "tiny-continuation"] as const;
export type TinyVariant = (typeof TINY_VARIANTS)[number];

const OPSET = 17;
/** Each component draws from its own fork of the seed. */
const STREAM = { textEncoder: 1, unet: 2, vaeEncoder: 3, vaeDecoder: 4, controlnet: 5, upscalerUnet: 6, upscalerVaeDecoder: 7 } as const;

const componentRng = (seed: number, stream: number) => new Rng(seed).fork(stream);

/** Serialized ONNX bytes of each component (all weights inline; the UNet as a whole file for tests). */
export const buildTinyTextEncoder = (seed = TINY_SEED): Uint8Array => buildTinyTextEncoderNet(componentRng(seed, STREAM.textEncoder)).g.toModel({ opset: OPSET });
export const buildTinyUnet = (seed = TINY_SEED, options: { controlResiduals?: boolean; inpaint?: boolean } = {}): Uint8Array =>
  buildTinyUnetNet(componentRng(seed, STREAM.unet), options).g.toModel({ opset: OPSET });
export const buildTinyVaeEncoder = (seed = TINY_SEED): Uint8Array => buildTinyVaeEncoderNet(componentRng(seed, STREAM.vaeEncoder)).g.toModel({ opset: OPSET });
export const buildTinyVaeDecoder = (seed = TINY_SEED): Uint8Array => buildTinyVaeDecoderNet(componentRng(seed, STREAM.vaeDecoder)).g.toModel({ opset: OPSET });
export const buildTinyControlNet = (seed = TINY_SEED): Uint8Array => buildTinyControlNetNet(componentRng(seed, STREAM.controlnet)).g.toModel({ opset: OPSET });

/** The cache folder name for a variant: `<variant>-<12 hex of sha256(version, seed)>`. */
export function tinyModelFolderName(variant: TinyVariant = "tiny", seed = TINY_SEED): string {
  // The video family has a version of its own, so its changes rebuild only its folder.
  const video =
    variant === "tiny-video" ? `:video-${TINY_VIDEO_BUILDER_VERSION}` : variant === "tiny-continuation" ? `:continuation-${TINY_CONTINUATION_BUILDER_VERSION}` : "";
  const hash = createHash("sha256").update(`latentloom-tiny:${TINY_BUILDER_VERSION}:${seed}${video}`).digest("hex").slice(0, 12);
  return `${variant}-${hash}`;
}


/** Writes a complete model folder for `variant` into `dir` (created; existing files overwritten). */
export async function writeTinyModelFolder(dir: string, variant: TinyVariant = "tiny", seed = TINY_SEED): Promise<void> {
  checkVariant(variant);
  if (variant === "tiny-video") return writeTinyVideoModelFolder(dir, seed);
  if (variant === "tiny-continuation") return writeTinyContinuationModelFolder(dir, seed);
  const controlnet = variant === "tiny-controlnet";
  const upscaler = variant === "tiny-upscaler";
  const inpaint = variant === "tiny-inpaint";
  const save = await startTinyFolder(dir, {
    modelIndex: upscaler ? UPSCALER_MODEL_INDEX : inpaint ? INPAINT_MODEL_INDEX : modelIndex(controlnet),
    build: { variant, seed, builder_version: TINY_BUILDER_VERSION },
    scheduler: upscaler ? UPSCALER_SCHEDULER_CONFIG : SCHEDULER_CONFIG,
  });
  save("text_encoder", buildTinyTextEncoder(seed), TEXT_ENCODER_CONFIG);
  if (upscaler) {
    // The x4 upscaler has no encoder: its low-res image enters the UNet in pixel space.
    mkdirSync(join(dir, "low_res_scheduler"), { recursive: true });
    writeJson(join(dir, "low_res_scheduler", "scheduler_config.json"), UPSCALER_LOW_RES_SCHEDULER_CONFIG);
    save("vae_decoder", buildTinyUpscalerVaeDecoderNet(componentRng(seed, STREAM.upscalerVaeDecoder)).g.toModel({ opset: OPSET }), UPSCALER_VAE_CONFIG);
    save("unet", buildTinyUpscalerUnetNet(componentRng(seed, STREAM.upscalerUnet)).g.toModel({ opset: OPSET }), UPSCALER_UNET_CONFIG);
    return;
  }
  save("vae_encoder", buildTinyVaeEncoder(seed), VAE_CONFIG);
  save("vae_decoder", buildTinyVaeDecoder(seed), VAE_CONFIG);
  // The UNet keeps its weights in model.onnx_data as large exports do, so external data is exercised.
  const unet = buildTinyUnetNet(componentRng(seed, STREAM.unet), { controlResiduals: controlnet, inpaint });
  unet.g.save(join(dir, "unet", "model.onnx"), { opset: OPSET, externalData: { location: "model.onnx_data", minBytes: 100 } });
  writeJson(join(dir, "unet", "config.json"), inpaint ? INPAINT_UNET_CONFIG : UNET_CONFIG);
  if (controlnet) save("controlnet", buildTinyControlNet(seed), CONTROLNET_CONFIG);
}

function checkVariant(variant: string): asserts variant is TinyVariant {
  if (!(TINY_VARIANTS as readonly string[]).includes(variant)) {
    throw new UsageError(`unknown tiny model variant "${variant}"; valid: ${TINY_VARIANTS.join(", ")}`);
  }
}

const pending = new Map<string, Promise<string>>();

/**
 * The path of the built `variant` folder in the model cache, building it first if needed.
 * Safe when several processes build at once: each builds into its own temporary folder and the
 * first rename wins; the others discard theirs.
 */
export function ensureTinyModel(variant: TinyVariant = "tiny"): Promise<string> {
  checkVariant(variant);
  const dir = join(cacheDir("models"), tinyModelFolderName(variant));
  let result = pending.get(dir);
  if (!result) {
    result = build(dir, variant);
    pending.set(dir, result);
    result.catch(() => pending.delete(dir));
  }
  return result;
}

/**
 * The one place a model name becomes a folder: a built-in variant (`tiny`, `tiny-controlnet`,
 * `tiny-inpaint`, `tiny-upscaler`, `tiny-video`, `tiny-continuation`) is built on first use, anything else is an export folder path.
 */
export function resolveModelDir(model: string): Promise<string> {
  return (TINY_VARIANTS as readonly string[]).includes(model) ? ensureTinyModel(model as TinyVariant) : Promise.resolve(model);
}

async function build(dir: string, variant: TinyVariant): Promise<string> {
  if (existsSync(join(dir, "model_index.json"))) return dir;
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    await writeTinyModelFolder(tmp, variant);
    try {
      renameSync(tmp, dir);
    } catch (error) {
      // Another process finished first (rename onto a non-empty folder fails): use theirs.
      if (!existsSync(join(dir, "model_index.json"))) throw error;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
