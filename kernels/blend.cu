/* Blending and scheduler arithmetic on latents: lerp (the EMA blend), slerp, linear
 * combinations, fill, f16 <-> f32. One source for both backends (see prelude-*.h).
 * Signatures: kernels/blend.ts. f16 kernels compute in f32. Outputs may alias inputs, so
 * elementwise kernels take no restrict pointers. */

LL_KERNEL lerp_f32(float* out, const float* a, const float* b, float t, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = a[i] + t * (b[i] - a[i]);
}

LL_KERNEL lerp_f16(ll_half* out, const ll_half* a, const ll_half* b, float t, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    float x = ll_h2f(a[i]);
    out[i] = ll_f2h(x + t * (ll_h2f(b[i]) - x));
  }
}

/* Per-element weight: out = a + w * (b - a). */
LL_KERNEL lerp_weighted_f32(float* out, const float* a, const float* b, const float* w, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = a[i] + w[i] * (b[i] - a[i]);
}

LL_KERNEL lerp_weighted_f16(ll_half* out, const ll_half* a, const ll_half* b, const ll_half* w, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    float x = ll_h2f(a[i]);
    out[i] = ll_f2h(x + ll_h2f(w[i]) * (ll_h2f(b[i]) - x));
  }
}

/* out = alpha * x + beta * y */
LL_KERNEL axpby_f32(float* out, float alpha, const float* x, float beta, const float* y, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = alpha * x[i] + beta * y[i];
}

LL_KERNEL axpby_f16(ll_half* out, float alpha, const ll_half* x, float beta, const ll_half* y, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = ll_f2h(alpha * ll_h2f(x[i]) + beta * ll_h2f(y[i]));
}

/* out = alpha * x + beta * y + gamma * z: a multistep scheduler update in one pass. */
LL_KERNEL axpbypcz_f32(float* out, float alpha, const float* x, float beta, const float* y, float gamma,
                       const float* z, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = alpha * x[i] + beta * y[i] + gamma * z[i];
}

LL_KERNEL scale_f32(float* out, const float* x, float alpha, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = alpha * x[i];
}

LL_KERNEL add_f32(float* out, const float* x, const float* y, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = x[i] + y[i];
}

LL_KERNEL fill_f32(float* out, float value, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = value;
}

LL_KERNEL clamp_f32(float* out, const float* x, float lo, float hi, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = fminf(hi, fmaxf(lo, x[i]));
}

LL_KERNEL f16_to_f32(float* out, const ll_half* x, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = ll_h2f(x[i]);
}

LL_KERNEL f32_to_f16(ll_half* out, const float* x, ll_i64 n) {
  LL_FOR_EACH(i, n) out[i] = ll_f2h(x[i]);
}

/* Spherical interpolation of each row of a and b (rows x cols), as in
 * shared/specs/attention-interpolation.md: dot of the normalised rows; when |dot| exceeds
 * `threshold` (near parallel or anti-parallel) or is NaN (a zero row), fall back to lerp, which
 * keeps the result finite. Not renormalised. Sums are accumulated in double. The lanes of a
 * block reduce through shared memory on the GPU; on the CPU each thread is a one-lane block. */
#define LL_SLERP_LANES 256

/* Writes the two slerp weights, or returns 1 for the lerp fallback (written a + t(b - a), so
 * identical rows come back bit for bit). */
LL_DEVICE int ll_slerp_coefficients(double ab, double aa, double bb, float t, float threshold,
                                    float* ca, float* cb) {
  double dot = ab / (sqrt(aa) * sqrt(bb));
  if (!(fabs(dot) <= (double)threshold)) {
    *ca = 1.0f - t;
    *cb = t;
    return 1;
  }
  double theta = acos(dot), s = sin(theta);
  *ca = (float)(sin((1.0 - t) * theta) / s);
  *cb = (float)(sin(t * theta) / s);
  return 0;
}

#define LL_SLERP_ROWS(NAME, T, LOAD, STORE)                                                      \
  LL_KERNEL NAME(T* out, const T* a, const T* b, float t, float threshold, ll_i64 rows,         \
                 ll_i64 cols) {                                                                  \
    LL_SHARED double sums[3][LL_SLERP_LANES];                                                   \
    LL_SHARED float coef[3];                                                                     \
    LL_FOR_ROW(row, rows) {                                                                      \
      const T* ra = a + row * cols;                                                              \
      const T* rb = b + row * cols;                                                              \
      double ab = 0.0, aa = 0.0, bb = 0.0;                                                       \
      for (ll_i64 c = LL_ROW_LANE; c < cols; c += LL_ROW_LANES) {                               \
        double x = LOAD(ra[c]), y = LOAD(rb[c]);                                                 \
        ab += x * y;                                                                             \
        aa += x * x;                                                                             \
        bb += y * y;                                                                             \
      }                                                                                          \
      sums[0][LL_ROW_LANE] = ab;                                                                 \
      sums[1][LL_ROW_LANE] = aa;                                                                 \
      sums[2][LL_ROW_LANE] = bb;                                                                 \
      LL_SYNC();                                                                                 \
      for (unsigned s = LL_ROW_LANES / 2; s > 0; s >>= 1) {                                      \
        if (LL_ROW_LANE < s) {                                                                   \
          sums[0][LL_ROW_LANE] += sums[0][LL_ROW_LANE + s];                                      \
          sums[1][LL_ROW_LANE] += sums[1][LL_ROW_LANE + s];                                      \
          sums[2][LL_ROW_LANE] += sums[2][LL_ROW_LANE + s];                                      \
        }                                                                                        \
        LL_SYNC();                                                                               \
      }                                                                                          \
      if (LL_ROW_LANE == 0)                                                                      \
        coef[2] = (float)ll_slerp_coefficients(sums[0][0], sums[1][0], sums[2][0], t, threshold, \
                                               &coef[0], &coef[1]);                              \
      LL_SYNC();                                                                                 \
      float ca = coef[0], cb = coef[1];                                                          \
      int lerp = coef[2] != 0.0f;                                                                \
      T* ro = out + row * cols;                                                                  \
      for (ll_i64 c = LL_ROW_LANE; c < cols; c += LL_ROW_LANES)                                 \
        ro[c] = STORE(lerp ? LOAD(ra[c]) + cb * (LOAD(rb[c]) - LOAD(ra[c]))                      \
                           : ca * LOAD(ra[c]) + cb * LOAD(rb[c]));                               \
      LL_SYNC();                                                                                 \
    }                                                                                            \
  }

#define LL_F32_LOAD(x) (x)
#define LL_F32_STORE(x) (x)
LL_SLERP_ROWS(slerp_rows_f32, float, LL_F32_LOAD, LL_F32_STORE)
LL_SLERP_ROWS(slerp_rows_f16, ll_half, ll_h2f, ll_f2h)
