/* Masks for inpainting transitions (shared/specs/latent-blending.md §F): a mask image to a
 * binary field at any size, the masked source picture, and the re-paste of the kept region into
 * latents. 1 = regenerate, 0 = keep. One source for both backends (see prelude-*.h); signatures
 * in kernels/mask.ts. */

/* out (w x h) = 1 where the luma of the nearest source pixel of rgb (sw x sh, rgb24) is at
 * least half of full scale, else 0. Nearest as torch's "nearest": source = floor(dst * s / d).
 * Luma in integers (299 R + 587 G + 114 B >= 127500), so the threshold has no rounding edge. */
LL_KERNEL mask_threshold_nearest_f32(float* out, const unsigned char* rgb, ll_i64 sw, ll_i64 sh, ll_i64 w,
                                     ll_i64 h) {
  LL_FOR_EACH(i, w * h) {
    ll_i64 y = i / w, x = i - y * w;
    ll_i64 sy = (y * sh) / h, sx = (x * sw) / w;
    const unsigned char* p = rgb + 3 * (sy * sw + sx);
    ll_i64 luma = 299 * (ll_i64)p[0] + 587 * (ll_i64)p[1] + 114 * (ll_i64)p[2];
    out[i] = luma >= 127500 ? 1.0f : 0.0f;
  }
}

/* The picture with the regenerated region blanked: out = rgb where mask < 0.5, else `value`
 * (rgb24, n pixels, mask one value per pixel). */
LL_KERNEL mask_fill_rgb24(unsigned char* out, const unsigned char* rgb, const float* mask, int value, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    int blank = mask[i] >= 0.5f;
    for (int c = 0; c < 3; c++) out[3 * i + c] = blank ? (unsigned char)value : rgb[3 * i + c];
  }
}

/* out = m * x + (1 - m) * keep, the mask (hw values) broadcast over the leading axes of the
 * latents (n = batch * channels * hw). Written as keep + m * (x - keep) so m = 0 gives keep
 * bit for bit. May alias x or keep. */
LL_KERNEL mask_paste_f32(float* out, const float* x, const float* keep, const float* mask, ll_i64 hw, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    float m = mask[i % hw];
    out[i] = keep[i] + m * (x[i] - keep[i]);
  }
}
