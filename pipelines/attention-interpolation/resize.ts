/**
 * rgb24 bilinear resize with pixel centres aligned (OpenCV's INTER_LINEAR sampling), used to
 * bring input frames to the generation size and outputs back to the source size. Takes
 * (width, height) by name: the reference passed (img_h, img_w) to cv2.resize, which wants (w, h),
 * and so swapped the sides of non-square sizes.
 */
import type { Frame } from "../io/frame.ts";

export function resizeFrame(src: Frame, width: number, height: number): Frame {
  if (src.width === width && src.height === height) return src;
  const out = new Uint8Array(width * height * 3);
  const sx = src.width / width;
  const sy = src.height / height;
  const cols = Array.from({ length: width }, (_, x) => axis((x + 0.5) * sx - 0.5, src.width));
  for (let y = 0; y < height; y++) {
    const [y0, y1, fy] = axis((y + 0.5) * sy - 0.5, src.height);
    const r0 = y0 * src.width * 3;
    const r1 = y1 * src.width * 3;
    for (let x = 0; x < width; x++) {
      const [x0, x1, fx] = cols[x]!;
      for (let c = 0; c < 3; c++) {
        const top = src.data[r0 + x0 * 3 + c]! * (1 - fx) + src.data[r0 + x1 * 3 + c]! * fx;
        const bottom = src.data[r1 + x0 * 3 + c]! * (1 - fx) + src.data[r1 + x1 * 3 + c]! * fx;
        out[(y * width + x) * 3 + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { width, height, data: out };
}

/** The two source indices around position `p` (edges repeated) and the weight of the second. */
function axis(p: number, n: number): [number, number, number] {
  const c = Math.min(Math.max(p, 0), n - 1);
  const i0 = Math.floor(c);
  const i1 = Math.min(i0 + 1, n - 1);
  return [i0, i1, c - i0];
}
