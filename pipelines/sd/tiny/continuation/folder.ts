/**
 * The `tiny-continuation` model folder: the tiny text encoder, tokenizer, VAE encoder and decoder
 * (the same bytes as `tiny`, so an init image made by `tiny` encodes to latents this model knows)
 * and the tiny ContinuitySeq UNet (unet.ts), in the layout of docs/continuation.md.
 *
 *   await writeTinyContinuationModelFolder(dir, 1234);                            // what resolveModelDir builds
 *   await writeTinyContinuationModelFolder(dir, 1234, { conditioning: false });   // the unconditional reference
 */
import { Rng } from "../../random.ts";
import { SCHEDULER_CONFIG, TEXT_ENCODER_CONFIG, VAE_CONFIG } from "../model-configs.ts";
import { buildTinyTextEncoderNet } from "../text-encoder.ts";
import { UNET_SHAPE } from "../unet-blocks.ts";
import { buildTinyVaeDecoderNet, buildTinyVaeEncoderNet } from "../vae.ts";
import { startTinyFolder } from "../folder-writer.ts";
import { buildTinyContinuationUnetNet, CONTINUATION_UNET_SHAPE, type TinyContinuationUnetOptions } from "./unet.ts";

/** Bump whenever this builder would write different bytes (folds into the folder name). */
export const TINY_CONTINUATION_BUILDER_VERSION = "1";

const OPSET = 17;
/** The image family's streams 1, 3, 4 (text encoder, VAE) and one of this family's own. */
const STREAM = { textEncoder: 1, vaeEncoder: 3, vaeDecoder: 4, unet: 10 } as const;

/** The UNet's ONNX bytes, all weights inline (tests). */
export function buildTinyContinuationUnet(seed: number, options: TinyContinuationUnetOptions = {}): Uint8Array {
  return buildTinyContinuationUnetNet(new Rng(seed).fork(STREAM.unet), options).g.toModel({ opset: OPSET });
}


export async function writeTinyContinuationModelFolder(dir: string, seed: number, unet: TinyContinuationUnetOptions = {}): Promise<void> {
  const rng = (stream: number) => new Rng(seed).fork(stream);
  const save = await startTinyFolder(dir, {
    modelIndex: {
      _class_name: "ContinuitySeqPipeline",
      scheduler: ["diffusers", "DDIMScheduler"],
      text_encoder: ["transformers", "CLIPTextModel"],
      tokenizer: ["transformers", "CLIPTokenizer"],
      unet: ["continuity_seq", "UNet3DConditionModel"],
      vae: ["diffusers", "AutoencoderKL"],
    },
    build: { variant: "tiny-continuation", seed, builder_version: TINY_CONTINUATION_BUILDER_VERSION, unet },
    scheduler: SCHEDULER_CONFIG,
  });
  save("text_encoder", buildTinyTextEncoderNet(rng(STREAM.textEncoder)).g.toModel({ opset: OPSET }), TEXT_ENCODER_CONFIG);
  save("vae_encoder", buildTinyVaeEncoderNet(rng(STREAM.vaeEncoder)).g.toModel({ opset: OPSET }), VAE_CONFIG);
  save("vae_decoder", buildTinyVaeDecoderNet(rng(STREAM.vaeDecoder)).g.toModel({ opset: OPSET }), VAE_CONFIG);
  save("unet", buildTinyContinuationUnetNet(rng(STREAM.unet), unet).g.toModel({ opset: OPSET }), {
    _class_name: "UNet3DConditionModel",
    block_out_channels: [CONTINUATION_UNET_SHAPE.channels],
    cross_attention_dim: UNET_SHAPE.contextDim,
    use_conditioning_norm: true,
    latentloom_inputs: {
      timestep: "[] int64, one for all frames",
      conditioning_hidden_states: "[batch_size, 4, conditioning_frames, height, width], clean latents, dynamic frame axis",
    },
  });
}
