/* Image statistics for comparing pictures on the device: rgb24 -> luma, 2x box downsampling, and
 * a per-pixel SSIM map over a square box window (Wang et al. 2004 with a uniform window instead
 * of the Gaussian, as many fast SSIMs do), plus row sums to average the map. One source for both
 * backends (see prelude-*.h); signatures in kernels/image.ts. Sums are accumulated in double. */

/* BT.601 luma of packed rgb24, scaled to [0, 1]. */
LL_KERNEL rgb24_to_luma_f32(float* out, const unsigned char* rgb, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    const unsigned char* p = rgb + 3 * i;
    out[i] = (0.299f * (float)p[0] + 0.587f * (float)p[1] + 0.114f * (float)p[2]) * (1.0f / 255.0f);
  }
}

/* out (ow x oh) = mean of each 2x2 block of x (w x h); an odd last row or column is dropped.
 * Reads are clamped to the image so a caller's wrong ow/oh cannot read out of bounds. */
LL_KERNEL downsample2_f32(float* out, const float* x, ll_i64 w, ll_i64 h, ll_i64 ow, ll_i64 oh) {
  LL_FOR_EACH(i, ow * oh) {
    ll_i64 oy = i / ow, ox = i - oy * ow;
    ll_i64 x0 = 2 * ox < w - 1 ? 2 * ox : w - 1, y0 = 2 * oy < h - 1 ? 2 * oy : h - 1;
    ll_i64 x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    out[i] = 0.25f * (x[y0 * w + x0] + x[y0 * w + x1] + x[y1 * w + x0] + x[y1 * w + x1]);
  }
}

/* SSIM of a and b (w x h) at every pixel, over the (2r+1)^2 window centred on it, clipped at the
 * borders (the statistics then cover the pixels inside). Population variances; c1, c2 are the
 * usual (0.01 L)^2 and (0.03 L)^2. */
LL_KERNEL ssim_map_f32(float* out, const float* a, const float* b, ll_i64 w, ll_i64 h, ll_i64 r, float c1, float c2) {
  LL_FOR_EACH(i, w * h) {
    ll_i64 y = i / w, x = i - y * w;
    ll_i64 ylo = y - r > 0 ? y - r : 0, yhi = y + r < h - 1 ? y + r : h - 1;
    ll_i64 xlo = x - r > 0 ? x - r : 0, xhi = x + r < w - 1 ? x + r : w - 1;
    double sa = 0.0, sb = 0.0, saa = 0.0, sbb = 0.0, sab = 0.0;
    for (ll_i64 yy = ylo; yy <= yhi; yy++) {
      for (ll_i64 xx = xlo; xx <= xhi; xx++) {
        double p = a[yy * w + xx], q = b[yy * w + xx];
        sa += p;
        sb += q;
        saa += p * p;
        sbb += q * q;
        sab += p * q;
      }
    }
    double count = (double)((yhi - ylo + 1) * (xhi - xlo + 1));
    double ma = sa / count, mb = sb / count;
    double va = saa / count - ma * ma, vb = sbb / count - mb * mb, cov = sab / count - ma * mb;
    double num = (2.0 * ma * mb + c1) * (2.0 * cov + c2);
    double den = (ma * ma + mb * mb + c1) * (va + vb + c2);
    out[i] = (float)(num / den);
  }
}

/* out[row] = sum of x's row (rows x cols), in double: one thread per row, enough for images. */
LL_KERNEL row_sum_f32(float* out, const float* x, ll_i64 rows, ll_i64 cols) {
  LL_FOR_EACH(row, rows) {
    double s = 0.0;
    const float* p = x + row * cols;
    for (ll_i64 c = 0; c < cols; c++) s += p[c];
    out[row] = (float)s;
  }
}
