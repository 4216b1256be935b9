/**
 * Temporal attention in the site finder: a video UNet's `temp_attentions` blocks keep their own
 * scope names, are marked temporal (their tokens are frames), and spatial blocks beside them are
 * classified as in an image UNet.
 */
import { describe, expect, test } from "bun:test";
import { findAttentionBlocks, tokenCounts } from "../../../pipelines/onnx/attention-sites.ts";
import { readModel } from "../../../pipelines/onnx/model-builder.ts";
import { buildTinyVideoUnet } from "../../../pipelines/sd/tiny/video/folder.ts";

const blocks = findAttentionBlocks(readModel(buildTinyVideoUnet(1234)));
const PLACES = ["down_blocks.0", "down_blocks.1", "mid_block", "up_blocks.1", "up_blocks.1", "up_blocks.2", "up_blocks.2"];

describe("the site finder on a UNet3D-shaped graph", () => {
  test("finds spatial attn1/attn2/attn_ip and temporal attn1/attn2 at every attention place, named by scope", () => {
    const expected = PLACES.flatMap((place, i) => {
      const j = place.startsWith("up_blocks") ? (i - 3) % 2 : 0;
      const s = `${place}/attentions.${j}/transformer_blocks.0`;
      const t = `${place}/temp_attentions.${j}/transformer_blocks.0`;
      return [
        { name: `${s}/attn1`, self: true, temporal: false },
        { name: `${s}/attn2`, self: false, temporal: false },
        { name: `${s}/attn_ip`, self: false, temporal: false },
        { name: `${t}/attn1`, self: true, temporal: true },
        { name: `${t}/attn2`, self: true, temporal: true },
      ];
    });
    expect(blocks.map((b) => ({ name: b.name, self: b.self, temporal: b.place.temporal }))).toEqual(expected);
    expect(blocks.every((b) => b.place.from === "names" && b.place.block !== "unknown")).toBe(true);
  });

  test("gives temporal blocks no token counts (frames, not pixels) and spatial blocks the usual ones", () => {
    const spatial = blocks.find((b) => b.name === "down_blocks.1/attentions.0/transformer_blocks.0/attn1")!;
    const temporal = blocks.find((b) => b.name === "down_blocks.1/temp_attentions.0/transformer_blocks.0/attn1")!;
    expect(tokenCounts(spatial, 16, 16)).toEqual({ query: 64, key: 64 });
    expect(temporal.level).toBe(1);
    expect(tokenCounts(temporal, 16, 16)).toBeUndefined();
  });
});
