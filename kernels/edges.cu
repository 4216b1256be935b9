/* ControlNet preprocessors: Canny edges (luma, Gaussian blur, Sobel, non-maximum suppression,
 * double threshold, hysteresis) and the image conversions the depth preprocessor and the control
 * image need (rgb24 -> planar float, bilinear resize, row maxima, depth -> grey rgb24).
 * One source for both backends (see prelude-*.h); signatures in kernels/edges.ts.
 *
 * Images are row-major w x h planes. Reads outside the image repeat the nearest edge pixel
 * (OpenCV's BORDER_REPLICATE, which its Canny uses for the Sobel step), except in non-maximum
 * suppression, where a neighbour outside the image has magnitude 0.
 * Canny pixel states: 0 = no edge, 1 = weak (between the thresholds), 2 = strong / edge. */

LL_DEVICE ll_i64 edges_clamp(ll_i64 v, ll_i64 hi) { return v < 0 ? 0 : v > hi ? hi : v; }

/* OpenCV's fixed-point RGB -> grey (BT.601 weights in 1/16384ths, rounded): integers 0..255,
 * so the thresholds 50/200 mean what they mean for cv2.Canny on an 8-bit image. Integer maths
 * makes the result identical on every backend. */
LL_KERNEL rgb24_to_gray_f32(float* out, const unsigned char* rgb, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    const unsigned char* p = rgb + 3 * i;
    int v = ((int)p[0] * 4899 + (int)p[1] * 9617 + (int)p[2] * 1868 + 8192) >> 14;
    out[i] = (float)v;
  }
}

/* 5x5 Gaussian, given as the 1-D weights (w0 centre, w1, w2 outwards; the caller normalises
 * them). Rows of taps are summed first, then weighted by the vertical tap. */
LL_KERNEL gaussian_blur5_f32(float* out, const float* x, ll_i64 w, ll_i64 h, float w0, float w1, float w2) {
  LL_FOR_EACH(i, w * h) {
    ll_i64 y = i / w, xc = i - y * w;
    float k[5];
    k[0] = w2; k[1] = w1; k[2] = w0; k[3] = w1; k[4] = w2;
    float acc = 0.0f;
    for (int dy = 0; dy < 5; dy++) {
      const float* row = x + edges_clamp(y + dy - 2, h - 1) * w;
      float r = 0.0f;
      for (int dx = 0; dx < 5; dx++) r += k[dx] * row[edges_clamp(xc + dx - 2, w - 1)];
      acc += k[dy] * r;
    }
    out[i] = acc;
  }
}

/* 3x3 Sobel gradients -> magnitude (|gx| + |gy| when l2 == 0, as cv2.Canny by default; else
 * sqrt(gx^2 + gy^2)) and the gradient direction in 4 sectors: 0 horizontal (compare left/right),
 * 1 vertical (up/down), 2 the diagonal through (x-1,y-1) and (x+1,y+1), 3 the other diagonal.
 * Sector edges at 22.5 and 67.5 degrees. y grows downwards. */
#define EDGES_TAN22 0.41421356237f
#define EDGES_TAN67 2.41421356237f

LL_KERNEL canny_gradient_f32(float* mag, unsigned char* dir, const float* x, ll_i64 w, ll_i64 h, ll_i64 l2) {
  LL_FOR_EACH(i, w * h) {
    ll_i64 y = i / w, xc = i - y * w;
    const float* r0 = x + edges_clamp(y - 1, h - 1) * w;
    const float* r1 = x + y * w;
    const float* r2 = x + edges_clamp(y + 1, h - 1) * w;
    ll_i64 xl = edges_clamp(xc - 1, w - 1), xr = edges_clamp(xc + 1, w - 1);
    float gx = (r0[xr] - r0[xl]) + 2.0f * (r1[xr] - r1[xl]) + (r2[xr] - r2[xl]);
    float gy = (r2[xl] - r0[xl]) + 2.0f * (r2[xc] - r0[xc]) + (r2[xr] - r0[xr]);
    float ax = fabsf(gx), ay = fabsf(gy);
    mag[i] = l2 ? sqrtf(gx * gx + gy * gy) : ax + ay;
    unsigned char d;
    if (ay < ax * EDGES_TAN22) d = 0;
    else if (ay > ax * EDGES_TAN67) d = 1;
    else d = (gx < 0.0f) == (gy < 0.0f) ? 2 : 3;
    dir[i] = d;
  }
}

/* Non-maximum suppression along the gradient, then the double threshold (m > low: weak,
 * m > high: strong). Along the axes a pixel must beat one neighbour and tie-or-beat the other,
 * so a plateau two pixels wide keeps exactly one of them (as OpenCV does). */
LL_KERNEL canny_nms_u8(unsigned char* state, const float* mag, const unsigned char* dir, ll_i64 w, ll_i64 h,
                       float low, float high) {
  LL_FOR_EACH(i, w * h) {
    ll_i64 y = i / w, xc = i - y * w;
    float m = mag[i];
    unsigned char s = 0;
    if (m > low) {
      ll_i64 ax, ay, bx, by; /* a: the neighbour m must strictly beat; b: the other one */
      unsigned char d = dir[i];
      if (d == 0) { ax = xc - 1; ay = y; bx = xc + 1; by = y; }
      else if (d == 1) { ax = xc; ay = y - 1; bx = xc; by = y + 1; }
      else if (d == 2) { ax = xc - 1; ay = y - 1; bx = xc + 1; by = y + 1; }
      else { ax = xc + 1; ay = y - 1; bx = xc - 1; by = y + 1; }
      float ma = (ax >= 0 && ax < w && ay >= 0 && ay < h) ? mag[ay * w + ax] : 0.0f;
      float mb = (bx >= 0 && bx < w && by >= 0 && by < h) ? mag[by * w + bx] : 0.0f;
      int keep = d < 2 ? (m > ma && m >= mb) : (m > ma && m > mb);
      if (keep) s = m > high ? 2 : 1;
    }
    state[i] = s;
  }
}

/* Hysteresis passes. A pass copies `in` to `out` line by line (rows, or columns) and sweeps each
 * line forwards then backwards, promoting a weak pixel to strong when an 8-neighbour is strong:
 * neighbours on the line itself are read from `out` as it is being updated, so a weak run touching
 * a strong pixel anywhere is promoted whole in one pass; the two neighbouring lines are read from
 * `in`, so every line depends only on the pass's input and the result is the same on any thread
 * count. The caller alternates rows and columns until a pass promotes nothing (then no weak pixel
 * touches a strong one: the fixed point). `changes[0]` is increased by the pixels promoted. */
LL_DEVICE int canny_strong_across(const unsigned char* in, ll_i64 line, ll_i64 lines, ll_i64 stride_line,
                                  ll_i64 pos, ll_i64 len, ll_i64 stride_pos) {
  for (ll_i64 l = line - 1; l <= line + 1; l += 2) {
    if (l < 0 || l >= lines) continue;
    for (ll_i64 p = pos - 1; p <= pos + 1; p++) {
      if (p >= 0 && p < len && in[l * stride_line + p * stride_pos] == 2) return 1;
    }
  }
  return 0;
}

LL_DEVICE int canny_sweep_line(unsigned char* out, const unsigned char* in, ll_i64 line, ll_i64 lines,
                               ll_i64 stride_line, ll_i64 len, ll_i64 stride_pos) {
  unsigned char* dst = out + line * stride_line;
  const unsigned char* src = in + line * stride_line;
  int promoted = 0;
  for (ll_i64 p = 0; p < len; p++) dst[p * stride_pos] = src[p * stride_pos];
  for (int backwards = 0; backwards < 2; backwards++) {
    for (ll_i64 k = 0; k < len; k++) {
      ll_i64 p = backwards ? len - 1 - k : k;
      if (dst[p * stride_pos] != 1) continue;
      if ((p > 0 && dst[(p - 1) * stride_pos] == 2) || (p + 1 < len && dst[(p + 1) * stride_pos] == 2) ||
          canny_strong_across(in, line, lines, stride_line, p, len, stride_pos)) {
        dst[p * stride_pos] = 2;
        promoted++;
      }
    }
  }
  return promoted;
}

LL_DEVICE void canny_count(int* changes, int promoted) {
  if (!promoted) return;
#if defined(LL_CUDA)
  atomicAdd(changes, promoted);
#else
#ifdef _OPENMP
#pragma omp atomic
#endif
  changes[0] += promoted;
#endif
}

/* The whole hysteresis at once, for the CPU backend: a flood fill from every strong pixel through
 * 8-connected weak ones, in place. One item, so one thread does it all; the fixed point is unique,
 * so the result equals any order of passes. `stack` (n entries: each pixel is pushed at most once)
 * is scratch and is left zeroed. On a GPU this is one slow thread: use the line sweeps there. */
LL_KERNEL canny_hysteresis_fill_u8(unsigned char* state, int* stack, ll_i64 w, ll_i64 h) {
  LL_FOR_EACH(item, 1) {
    ll_i64 top = 0;
    for (ll_i64 i = 0; i < w * h; i++)
      if (state[i] == 2) stack[top++] = (int)i;
    while (top > 0) {
      ll_i64 i = stack[--top], y = i / w, x = i - y * w;
      stack[top] = 0;
      for (ll_i64 yy = y - 1; yy <= y + 1; yy++) {
        if (yy < 0 || yy >= h) continue;
        for (ll_i64 xx = x - 1; xx <= x + 1; xx++) {
          if (xx < 0 || xx >= w || state[yy * w + xx] != 1) continue;
          state[yy * w + xx] = 2;
          stack[top++] = (int)(yy * w + xx);
        }
      }
    }
  }
}

LL_KERNEL canny_hysteresis_rows_u8(unsigned char* out, const unsigned char* in, int* changes, ll_i64 w, ll_i64 h) {
  int promoted = 0;
  LL_FOR_EACH(y, h) promoted += canny_sweep_line(out, in, y, h, w, w, 1);
  canny_count(changes, promoted);
}

LL_KERNEL canny_hysteresis_cols_u8(unsigned char* out, const unsigned char* in, int* changes, ll_i64 w, ll_i64 h) {
  int promoted = 0;
  LL_FOR_EACH(x, w) promoted += canny_sweep_line(out, in, x, w, 1, h, w);
  canny_count(changes, promoted);
}

/* Canny states -> an rgb24 picture: white where the state is 2 (an edge), black elsewhere. */
LL_KERNEL edges_to_rgb24(unsigned char* out, const unsigned char* state, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    unsigned char v = state[i] == 2 ? 255 : 0;
    out[3 * i] = v;
    out[3 * i + 1] = v;
    out[3 * i + 2] = v;
  }
}

/* rgb24 (n pixels) -> planes [3, n] of (v / 255 - mean) * inv_std: the control image with
 * mean 0, inv_std 1 ([0, 1]), or a depth model's normalised input. */
LL_KERNEL rgb24_to_planar_f32(float* out, const unsigned char* rgb, ll_i64 n, float mean, float inv_std) {
  LL_FOR_EACH(i, n) {
    for (int c = 0; c < 3; c++) out[c * n + i] = ((float)rgb[3 * i + c] * (1.0f / 255.0f) - mean) * inv_std;
  }
}

/* Bilinear resize of `planes` planes w x h -> ow x oh with pixel centres aligned
 * (align_corners = false, as torch / PIL / cv2.INTER_LINEAR); source coordinates clamped. */
LL_KERNEL resize_bilinear_f32(float* out, const float* x, ll_i64 planes, ll_i64 w, ll_i64 h, ll_i64 ow, ll_i64 oh) {
  LL_FOR_EACH(i, planes * ow * oh) {
    ll_i64 p = i / (ow * oh), rest = i - p * (ow * oh);
    ll_i64 oy = rest / ow, ox = rest - oy * ow;
    float sy = ((float)oy + 0.5f) * ((float)h / (float)oh) - 0.5f;
    float sx = ((float)ox + 0.5f) * ((float)w / (float)ow) - 0.5f;
    sy = sy < 0.0f ? 0.0f : sy;
    sx = sx < 0.0f ? 0.0f : sx;
    ll_i64 y0 = (ll_i64)sy, x0 = (ll_i64)sx;
    y0 = y0 > h - 1 ? h - 1 : y0;
    x0 = x0 > w - 1 ? w - 1 : x0;
    ll_i64 y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
    float fy = sy - (float)y0, fx = sx - (float)x0;
    fy = fy > 1.0f ? 1.0f : fy;
    fx = fx > 1.0f ? 1.0f : fx;
    const float* plane = x + p * w * h;
    float top = plane[y0 * w + x0] + fx * (plane[y0 * w + x1] - plane[y0 * w + x0]);
    float bottom = plane[y1 * w + x0] + fx * (plane[y1 * w + x1] - plane[y1 * w + x0]);
    out[i] = top + fy * (bottom - top);
  }
}

/* out[row] = max of x's row (rows x cols): one thread per row; the caller takes the max of these. */
LL_KERNEL row_max_f32(float* out, const float* x, ll_i64 rows, ll_i64 cols) {
  LL_FOR_EACH(row, rows) {
    const float* p = x + row * cols;
    float m = -3.402823466e38f;
    for (ll_i64 c = 0; c < cols; c++) m = p[c] > m ? p[c] : m;
    out[row] = m;
  }
}

/* Depth -> grey rgb24: depth * 255 / max, truncated to an integer and clamped to 0..255, as
 * transformers' depth-estimation pipeline computes it (numpy astype("uint8")), so the maximum
 * itself maps to exactly 255 (in double: in f32, m * 255 / m can round to 254.99998).
 * max <= 0 gives black. */
LL_KERNEL depth_to_rgb24(unsigned char* out, const float* depth, float max, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    double v = max > 0.0f ? (double)depth[i] * 255.0 / (double)max : 0.0;
    unsigned char b = v >= 255.0 ? 255 : v > 0.0 ? (unsigned char)(int)v : 0;
    out[3 * i] = b;
    out[3 * i + 1] = b;
    out[3 * i + 2] = b;
  }
}
