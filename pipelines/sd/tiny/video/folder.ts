/**
 * The `tiny-video` model folder (docs/video-models.md): the tiny text encoder, tokenizer and VAE
 * (the same weights as `tiny`, so prompts and colours mean the same), the tiny video UNet and the
 * tiny image embedder.
 *
 *   await writeTinyVideoModelFolder(dir);                                 // what resolveModelDir builds
 *   await writeTinyVideoModelFolder(dir, 1234, { timesteps: "batch" });   // a UNet FIFO must refuse
 */
import { join } from "node:path";
import { Rng } from "../../random.ts";
import { SCHEDULER_CONFIG, TEXT_ENCODER_CONFIG, VAE_CONFIG } from "../model-configs.ts";
import { buildTinyTextEncoderNet } from "../text-encoder.ts";
import { UNET_SHAPE } from "../unet-blocks.ts";
import { buildTinyVaeDecoderNet, buildTinyVaeEncoderNet } from "../vae.ts";
import { startTinyFolder, writeJson } from "../folder-writer.ts";
import { buildTinyImageEncoderNet, IMAGE_ENCODER_SIZE } from "./image-encoder.ts";
import { buildTinyVideoUnetNet, type TinyVideoUnetOptions, VIDEO_UNET_SHAPE } from "./unet3d.ts";

/** Bump whenever a video builder would write different bytes (folds into the folder name). */
export const TINY_VIDEO_BUILDER_VERSION = "1";

const OPSET = 17;
/** The image family's streams 1, 3, 4 (text encoder, VAE), and two of the video family's own. */
const STREAM = { textEncoder: 1, vaeEncoder: 3, vaeDecoder: 4, videoUnet: 8, imageEncoder: 9 } as const;
const DIFFUSERS_VERSION = "0.30.0";

/** The video UNet's ONNX bytes, all weights inline (for tests that edit or cut it). */
export function buildTinyVideoUnet(seed: number, options: TinyVideoUnetOptions = {}): Uint8Array {
  return buildTinyVideoUnetNet(new Rng(seed).fork(STREAM.videoUnet), options).g.toModel({ opset: OPSET });
}

const UNET3D_CONFIG = {
  _class_name: "UNet3DConditionModel",
  _diffusers_version: DIFFUSERS_VERSION,
  act_fn: "silu",
  attention_head_dim: VIDEO_UNET_SHAPE.heads,
  block_out_channels: [...VIDEO_UNET_SHAPE.channels],
  cross_attention_dim: UNET_SHAPE.contextDim,
  down_block_types: ["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"],
  up_block_types: ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"],
  in_channels: 4,
  out_channels: 4,
  layers_per_block: 1,
  norm_num_groups: UNET_SHAPE.groups,
  sample_size: 16,
  // What the export takes beyond UNet3DConditionModel's own inputs (VideoCrafter's conventions).
  latentloom_inputs: { timestep: "per frame, [batch_frames] int64", fps: "[batch_size] int64", image_embeds: `[batch_size, image_tokens, ${UNET_SHAPE.contextDim}]` },
  default_fps: 8,
};


/** Writes a complete tiny-video folder into `dir`. */
export async function writeTinyVideoModelFolder(dir: string, seed: number, unet: TinyVideoUnetOptions = {}): Promise<void> {
  const rng = (stream: number) => new Rng(seed).fork(stream);
  const save = await startTinyFolder(dir, {
    modelIndex: {
      _class_name: "TextToVideoSDPipeline",
      _diffusers_version: DIFFUSERS_VERSION,
      image_encoder: ["latentloom", "ImageEmbedder"],
      scheduler: ["diffusers", "DDIMScheduler"],
      text_encoder: ["transformers", "CLIPTextModel"],
      tokenizer: ["transformers", "CLIPTokenizer"],
      unet: ["diffusers", "UNet3DConditionModel"],
      vae: ["diffusers", "AutoencoderKL"],
    },
    build: { variant: "tiny-video", seed, builder_version: TINY_VIDEO_BUILDER_VERSION, unet },
    scheduler: SCHEDULER_CONFIG,
  });
  save("text_encoder", buildTinyTextEncoderNet(rng(STREAM.textEncoder)).g.toModel({ opset: OPSET }), TEXT_ENCODER_CONFIG);
  save("vae_encoder", buildTinyVaeEncoderNet(rng(STREAM.vaeEncoder)).g.toModel({ opset: OPSET }), VAE_CONFIG);
  save("vae_decoder", buildTinyVaeDecoderNet(rng(STREAM.vaeDecoder)).g.toModel({ opset: OPSET }), VAE_CONFIG);
  save("image_encoder", buildTinyImageEncoderNet(rng(STREAM.imageEncoder)).g.toModel({ opset: OPSET }), {
    image_size: IMAGE_ENCODER_SIZE,
    image_mean: [0.48145466, 0.4578275, 0.40821073],
    image_std: [0.26862954, 0.26130258, 0.27577711],
    tokens: VIDEO_UNET_SHAPE.imageTokens,
  });
  const net = buildTinyVideoUnetNet(rng(STREAM.videoUnet), unet);
  net.g.save(join(dir, "unet", "model.onnx"), { opset: OPSET, externalData: { location: "model.onnx_data", minBytes: 100 } });
  writeJson(join(dir, "unet", "config.json"), UNET3D_CONFIG);
}
