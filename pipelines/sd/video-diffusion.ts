/**
 * The models of a video export (docs/video-models.md) on one device: text encoder, video UNet,
 * the image VAE (frames decode one at a time), and the image embedder when the folder has one.
 *
 *   using vd = await VideoDiffusion.load("tiny-video");
 *   using context = vd.textEncoder.encode(["", "a boat on a lake"]);
 *   using eps = vd.unet.predict(latents, timesteps, context, { fps: vd.defaultFps });
 *   const frame = vd.vae.decode(latents.slice(0, 1));   // one frame's latent [1, 4, h, w]
 *
 * Jobs (pipelines/fifo/) build on this as the image jobs build on StableDiffusion.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Backend } from "../runtime/backend.ts";
import { openDevice } from "../runtime/device.ts";
import { ImageEncoder } from "./image-encoder.ts";
import { readModelFolder, type ModelFolder } from "./model-folder.ts";
import { createScheduler } from "./schedulers/index.ts";
import { TextEncoder } from "./text-encoder.ts";
import { resolveModelDir } from "./tiny/index.ts";
import { VideoUnet } from "./video-unet.ts";
import { Vae } from "./vae.ts";

export class VideoDiffusion implements Disposable {
  private constructor(
    readonly folder: ModelFolder,
    readonly backend: Backend,
    readonly textEncoder: TextEncoder,
    readonly unet: VideoUnet,
    readonly vae: Vae,
    /** image_encoder/model.onnx, when the folder has one (i2v, seeding the first frame). */
    readonly imageEncoder: ImageEncoder | undefined,
    /** ᾱ_t of the training schedule, t = 0 … T−1. */
    readonly alphasCumprod: Float64Array,
    /** The fps the UNet was trained to be told (unet/config.json `default_fps`, else VideoCrafter's 8). */
    readonly defaultFps: number,
  ) {}

  /** `model` is `tiny-video` (built on first use) or a video export folder. */
  static async load(model = "tiny-video", options: { device?: string; log?: (line: string) => void } = {}): Promise<VideoDiffusion> {
    const { backend, reason } = openDevice(options.device ?? "cpu");
    if (options.device === "auto") options.log?.(reason);
    const folder = readModelFolder(await resolveModelDir(model));
    // The UNet first: a folder that is not a video export fails here, before anything else loads.
    const unet = VideoUnet.load(folder.unet, backend);
    const loaded: Disposable[] = [unet];
    try {
      const textEncoder = await TextEncoder.load(folder.textEncoder, folder.tokenizer, backend);
      loaded.push(textEncoder);
      const vae = Vae.load(folder.vaeDecoder, folder.vaeEncoder, folder.vaeScale, backend);
      loaded.push(vae);
      const imagePath = join(folder.dir, "image_encoder", "model.onnx");
      const imageEncoder = existsSync(imagePath) ? ImageEncoder.load(imagePath, backend) : undefined;
      const alphas = createScheduler(folder.schedulerConfig, "ddim").alphasCumprod;
      const configPath = join(folder.dir, "unet", "config.json");
      const config = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>) : {};
      const fps = Number(config.default_fps ?? 8);
      return new VideoDiffusion(folder, backend, textEncoder, unet, vae, imageEncoder, alphas, Number.isFinite(fps) ? fps : 8);
    } catch (e) {
      for (const m of loaded) m[Symbol.dispose]();
      throw e;
    }
  }

  dispose(): void {
    this.textEncoder.dispose();
    this.unet.dispose();
    this.vae.dispose();
    this.imageEncoder?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
