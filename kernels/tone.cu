/* Tone curves on rgb24 pictures: ContinuitySeq's post-processing CLAHE with one tile
 * (shared/specs/continuity-seq.md, step 8), as OpenCV's CLAHE_CalcLut_Body computes it.
 * Three passes, no atomics, so both backends give the same bytes: partial histograms of pixel
 * chunks, one lookup table per channel from their sum, then the table applied. One source for
 * both backends (see prelude-*.h); signatures in kernels/tone.ts. */

/* hist[(k * 3 + c) * 256 + v] = how many of the pixels [k * chunk, (k + 1) * chunk) of rgb
 * (n pixels) have value v in channel c; one (chunk, channel) pair per index. */
LL_KERNEL tone_histogram_rgb24(int* hist, const unsigned char* rgb, ll_i64 n, ll_i64 chunk, ll_i64 chunks) {
  LL_FOR_EACH(i, chunks * 3) {
    ll_i64 k = i / 3, c = i - k * 3;
    int* h = hist + i * 256;
    for (int v = 0; v < 256; v++) h[v] = 0;
    ll_i64 end = (k + 1) * chunk < n ? (k + 1) * chunk : n;
    for (ll_i64 p = k * chunk; p < end; p++) h[rgb[3 * p + c]]++;
  }
}

/* lut[c * 256 + v] for each channel c: the chunks' histograms summed, every bin clipped to
 * `limit`, the excess E spread back (E / 256 to every bin, then the remainder r one each to bins
 * 0, s, 2s, … with s = max(256 / r, 1) while r lasts), and the cumulative count scaled to 0..255,
 * rounded half to even as OpenCV's saturate_cast does. */
LL_KERNEL tone_clahe_lut(unsigned char* lut, const int* hist, ll_i64 chunks, ll_i64 pixels, ll_i64 limit) {
  LL_FOR_EACH(c, 3) {
    ll_i64 h[256];
    ll_i64 clipped = 0;
    for (int v = 0; v < 256; v++) {
      ll_i64 count = 0;
      for (ll_i64 k = 0; k < chunks; k++) count += hist[(k * 3 + c) * 256 + v];
      if (count > limit) {
        clipped += count - limit;
        count = limit;
      }
      h[v] = count;
    }
    ll_i64 batch = clipped / 256, residual = clipped - batch * 256;
    for (int v = 0; v < 256; v++) h[v] += batch;
    if (residual > 0) {
      ll_i64 step = 256 / residual > 1 ? 256 / residual : 1;
      for (ll_i64 v = 0; v < 256 && residual > 0; v += step, residual--) h[v]++;
    }
    double scale = 255.0 / (double)pixels;
    ll_i64 sum = 0;
    for (int v = 0; v < 256; v++) {
      sum += h[v];
      double x = rint((double)sum * scale);
      lut[c * 256 + v] = (unsigned char)(x < 0.0 ? 0.0 : x > 255.0 ? 255.0 : x);
    }
  }
}

/* out = lut[channel][rgb] for every byte of an rgb24 picture of n pixels. */
LL_KERNEL tone_apply_lut_rgb24(unsigned char* out, const unsigned char* rgb, const unsigned char* lut, ll_i64 n) {
  LL_FOR_EACH(i, 3 * n) out[i] = lut[(i % 3) * 256 + rgb[i]];
}
