/* Patch-match: nearest-neighbour fields (NNFs) between two images, the vote that remaps a style
 * image through one, and FastBlend's pairwise patch error (shared/specs/patch-match.md).
 * One source for both backends (see prelude-*.h); signatures in kernels/patchmatch.ts.
 *
 * Layout. Images are NHWC f32 with 4 channels (RGB + a zero pad channel): [b][h][w][4].
 * A "record" packs a guide image and a style image of one item into 8 floats a pixel (guide in
 * 0..3, style in 4..7) with a zero border of `pad` pixels: [b][h+2pad][w+2pad][8], so a patch
 * (radius r <= pad) is read without bounds tests, as FastBlend zero-pads its images.
 * An NNF is int32 [b][h][w][2]: for each target pixel (y, x), the matched source pixel (row, col).
 * Target and source may differ in size (h x w and sh x sw); items of a batch are independent pairs.
 *
 * The search is Jacobi throughout: a candidate field is built from the current field into a
 * separate buffer (pm_candidate_i32), its per-pixel patch error computed (pm_patch_error_f32,
 * optionally plus pm_pairwise_error_f32), and pm_accept_f32 keeps it where strictly lower. No
 * kernel reads a neighbour of what it writes, so results do not depend on thread count or
 * order. Randomness is a counter-based hash of (seed, stream, pixel, axis): uint32 multiply,
 * xor and shift only, reproduced in TypeScript with Math.imul.
 *
 * Sums run in a fixed order (patch rows, columns, then channels kept in 8 separate accumulators,
 * weighted at the end), so the CPU compiler can vectorise the 8 channels without reassociating. */

#define PM_C 8
#define PM_STREAM_INIT 0xffffffffu

LL_DEVICE ll_i64 pm_clamp(ll_i64 v, ll_i64 lo, ll_i64 hi) { return v < lo ? lo : v > hi ? hi : v; }

/* A 32-bit integer finaliser (xorshift-multiply): every input bit affects every output bit. */
LL_DEVICE unsigned int pm_mix(unsigned int x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/* Uniform 32 bits for (seed, stream, counter): the same on every backend and in TypeScript. */
LL_DEVICE unsigned int pm_rand(unsigned int seed, unsigned int stream, unsigned int counter) {
  unsigned int key = pm_mix(seed * 0x9e3779b9u + stream * 0x85ebca6bu + 0x632be5abu);
  return pm_mix(key ^ (counter * 0xc2b2ae35u));
}

/* Weighted SSD of two (2r+1)^2 patches of 8-float records; t and s point at the centres,
 * *stride are floats per record row. */
LL_DEVICE float pm_patch_distance(const float* t, ll_i64 tstride, const float* s, ll_i64 sstride, ll_i64 r,
                                  const float* weights) {
  float acc[PM_C];
  for (int c = 0; c < PM_C; c++) acc[c] = 0.0f;
  ll_i64 span = (2 * r + 1) * PM_C;
  for (ll_i64 oy = -r; oy <= r; oy++) {
    const float* tr = t + oy * tstride - r * PM_C;
    const float* sr = s + oy * sstride - r * PM_C;
    for (ll_i64 k = 0; k < span; k += PM_C) {
      for (int c = 0; c < PM_C; c++) {
        float d = tr[k + c] - sr[k + c];
        acc[c] += d * d;
      }
    }
  }
  float e = 0.0f;
  for (int c = 0; c < PM_C; c++) e += weights[c] * acc[c];
  return e;
}

/* rgb24 -> [n][4] f32 (0..255, channel 3 = 0). */
LL_KERNEL pm_rgb24_to_f32x4(float* out, const unsigned char* rgb, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    out[4 * i + 0] = (float)rgb[3 * i + 0];
    out[4 * i + 1] = (float)rgb[3 * i + 1];
    out[4 * i + 2] = (float)rgb[3 * i + 2];
    out[4 * i + 3] = 0.0f;
  }
}

/* [n][4] f32 -> rgb24: clip to 0..255, then truncate (round = 0, as FastBlend) or round to the
 * nearest (round = 1). NaN becomes 0. */
LL_KERNEL pm_f32x4_to_rgb24(unsigned char* out, const float* x, ll_i64 n, ll_i64 round) {
  LL_FOR_EACH(i, n) {
    for (int c = 0; c < 3; c++) {
      float v = x[4 * i + c];
      if (round) v = v + 0.5f;
      v = fminf(255.0f, fmaxf(0.0f, v));
      out[3 * i + c] = (unsigned char)v;
    }
  }
}

/* Area averaging (adaptive average pooling) of [b][h][w][4] to [b][oh][ow][4]: output pixel
 * (oy, ox) is the mean of rows [oy*h/oh, ceil((oy+1)*h/oh)) and the columns likewise. */
LL_KERNEL pm_downsample_f32(float* out, const float* x, ll_i64 b, ll_i64 h, ll_i64 w, ll_i64 oh, ll_i64 ow) {
  LL_FOR_EACH(i, b * oh * ow) {
    ll_i64 bi = i / (oh * ow), rem = i - bi * oh * ow, oy = rem / ow, ox = rem - oy * ow;
    ll_i64 y0 = oy * h / oh, y1 = ((oy + 1) * h + oh - 1) / oh;
    ll_i64 x0 = ox * w / ow, x1 = ((ox + 1) * w + ow - 1) / ow;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (ll_i64 y = y0; y < y1; y++) {
      const float* row = x + ((bi * h + y) * w) * 4;
      for (ll_i64 xx = x0; xx < x1; xx++) {
        for (int c = 0; c < 4; c++) acc[c] += row[xx * 4 + c];
      }
    }
    float count = (float)((y1 - y0) * (x1 - x0));
    for (int c = 0; c < 4; c++) out[i * 4 + c] = acc[c] / count;
  }
}

/* Packs guide and style ([b][h][w][4] each) into records with a zero border (module comment). */
LL_KERNEL pm_pack_f32(float* rec, const float* guide, const float* style, ll_i64 b, ll_i64 h, ll_i64 w, ll_i64 pad) {
  ll_i64 ph = h + 2 * pad, pw = w + 2 * pad;
  LL_FOR_EACH(i, b * ph * pw) {
    ll_i64 bi = i / (ph * pw), rem = i - bi * ph * pw, py = rem / pw, px = rem - py * pw;
    ll_i64 y = py - pad, x = px - pad;
    float* o = rec + i * PM_C;
    if (y < 0 || y >= h || x < 0 || x >= w) {
      for (int c = 0; c < PM_C; c++) o[c] = 0.0f;
    } else {
      ll_i64 p = ((bi * h + y) * w + x) * 4;
      for (int c = 0; c < 4; c++) {
        o[c] = guide[p + c];
        o[4 + c] = style[p + c];
      }
    }
  }
}

/* phi(y, x) = (y, x), scaled when the source has another size. */
LL_KERNEL pm_nnf_identity_i32(int* nnf, ll_i64 b, ll_i64 h, ll_i64 w, ll_i64 sh, ll_i64 sw) {
  LL_FOR_EACH(i, b * h * w) {
    ll_i64 rem = i % (h * w), y = rem / w, x = rem - y * w;
    nnf[2 * i] = (int)(y * sh / h);
    nnf[2 * i + 1] = (int)(x * sw / w);
  }
}

/* phi uniform over the source, from the hash (stream PM_STREAM_INIT, counter 2p + axis, p the pixel's
 * index within its item, so an item of a batch gets the field it would get alone). */
LL_KERNEL pm_nnf_random_i32(int* nnf, ll_i64 b, ll_i64 h, ll_i64 w, ll_i64 sh, ll_i64 sw, ll_i64 seed) {
  LL_FOR_EACH(i, b * h * w) {
    unsigned int s = (unsigned int)seed, k = (unsigned int)(2 * (i % (h * w)));
    nnf[2 * i] = (int)(pm_rand(s, PM_STREAM_INIT, k) % (unsigned int)sh);
    nnf[2 * i + 1] = (int)(pm_rand(s, PM_STREAM_INIT, k + 1u) % (unsigned int)sw);
  }
}

/* A field one pyramid level finer: out is h x w into an sh x sw source; nnf is ch x cw into
 * csh x csw. Each pixel takes the coarse pixel under it, scales its match to the finer source
 * and adds its own offset within the coarse pixel, so identity stays identity and an exact
 * doubling gives 2 phi + (y mod 2, x mod 2). Clamped to the source. */
LL_KERNEL pm_nnf_upsample_i32(int* out, const int* nnf, ll_i64 b, ll_i64 h, ll_i64 w, ll_i64 sh, ll_i64 sw,
                              ll_i64 ch, ll_i64 cw, ll_i64 csh, ll_i64 csw) {
  LL_FOR_EACH(i, b * h * w) {
    ll_i64 bi = i / (h * w), rem = i - bi * h * w, y = rem / w, x = rem - y * w;
    ll_i64 cy = pm_clamp(y * ch / h, 0, ch - 1), cx = pm_clamp(x * cw / w, 0, cw - 1);
    const int* f = nnf + 2 * ((bi * ch + cy) * cw + cx);
    ll_i64 fy = pm_clamp(f[0], 0, csh - 1), fx = pm_clamp(f[1], 0, csw - 1);
    ll_i64 vy = fy * sh / csh + (y - cy * h / ch);
    ll_i64 vx = fx * sw / csw + (x - cx * w / cw);
    out[2 * i] = (int)pm_clamp(vy, 0, sh - 1);
    out[2 * i + 1] = (int)pm_clamp(vx, 0, sw - 1);
  }
}

/* A candidate field from nnf, clamped to the source. Modes (d = amount):
 *   0..3  propagation: cand(q) = phi(q + e) - e for e = (-d, 0), (0, -d), (d, 0), (0, d), i.e. the
 *         match of the neighbour above, left, below or right, moved back by the offset; where the
 *         neighbour is outside the image, the pixel's own phi(q) - e (FastBlend's border rule);
 *   4..7  shifts: cand(q) = phi(q) + e for the same four e;
 *   8     random: phi(q) + (U{-d..d}, U{-d..d}) from the hash (seed, stream, counter 2p + axis, p the
 *         pixel's index within its item, so batching pairs does not change their search). */
LL_KERNEL pm_candidate_i32(int* cand, const int* nnf, ll_i64 b, ll_i64 h, ll_i64 w, ll_i64 sh, ll_i64 sw,
                           ll_i64 mode, ll_i64 amount, ll_i64 seed, ll_i64 stream) {
  ll_i64 d = amount < 0 ? -amount : amount;
  LL_FOR_EACH(i, b * h * w) {
    ll_i64 bi = i / (h * w), rem = i - bi * h * w, y = rem / w, x = rem - y * w;
    const int* f = nnf + 2 * i;
    ll_i64 cy, cx;
    if (mode < 8) {
      ll_i64 m = mode & 3;
      ll_i64 ey = m == 0 ? -d : m == 2 ? d : 0, ex = m == 1 ? -d : m == 3 ? d : 0;
      if (mode >= 4) {
        cy = f[0] + ey;
        cx = f[1] + ex;
      } else {
        ll_i64 ny = y + ey, nx = x + ex;
        const int* g = (ny >= 0 && ny < h && nx >= 0 && nx < w) ? nnf + 2 * ((bi * h + ny) * w + nx) : f;
        cy = g[0] - ey;
        cx = g[1] - ex;
      }
    } else {
      unsigned int span = (unsigned int)(2 * d + 1), k = (unsigned int)(2 * rem);
      cy = f[0] + (ll_i64)(pm_rand((unsigned int)seed, (unsigned int)stream, k) % span) - d;
      cx = f[1] + (ll_i64)(pm_rand((unsigned int)seed, (unsigned int)stream, k + 1u) % span) - d;
    }
    cand[2 * i] = (int)pm_clamp(cy, 0, sh - 1);
    cand[2 * i + 1] = (int)pm_clamp(cx, 0, sw - 1);
  }
}

/* err(q) = sum_c weights[c] * sum_o (tgt(q + o)[c] - src(phi(q) + o)[c])^2 over the (2r+1)^2 patch,
 * plus err(q) when accumulate != 0. r is capped at pad; phi is clamped to the source.
 * With skip_same != 0, a pixel whose match equals ref's (a candidate that changes nothing there)
 * gets PM_SKIPPED instead, which pm_accept_f32 never takes: most propagation candidates of a
 * coherent field are such, and their error is the current one. */
#define PM_SKIPPED 3.0e38f

LL_KERNEL pm_patch_error_f32(float* err, const float* tgt, const float* src, const int* nnf, const int* ref,
                             const float* weights, ll_i64 b, ll_i64 h, ll_i64 w, ll_i64 sh, ll_i64 sw, ll_i64 pad,
                             ll_i64 r, ll_i64 accumulate, ll_i64 skip_same) {
  ll_i64 rr = pm_clamp(r, 0, pad);
  ll_i64 tw = w + 2 * pad, th = h + 2 * pad, stw = sw + 2 * pad, sth = sh + 2 * pad;
  LL_FOR_EACH(i, b * h * w) {
    if (skip_same && nnf[2 * i] == ref[2 * i] && nnf[2 * i + 1] == ref[2 * i + 1]) {
      err[i] = PM_SKIPPED;
      continue;
    }
    ll_i64 bi = i / (h * w), rem = i - bi * h * w, y = rem / w, x = rem - y * w;
    ll_i64 sy = pm_clamp(nnf[2 * i], 0, sh - 1), sx = pm_clamp(nnf[2 * i + 1], 0, sw - 1);
    const float* t = tgt + ((bi * th + y + pad) * tw + x + pad) * PM_C;
    const float* s = src + ((bi * sth + sy + pad) * stw + sx + pad) * PM_C;
    float e = pm_patch_distance(t, tw * PM_C, s, stw * PM_C, rr, weights);
    err[i] = accumulate ? err[i] + e : e;
  }
}

/* FastBlend's pairwise patch error: items 2k and 2k+1 (k < pairs) map two sources into one target;
 * both get err(q) = sum_c weights[c] * sum_o (src_2k(phi_2k(q) + o)[c] - src_2k+1(phi_2k+1(q) + o)[c])^2,
 * (plus err(q) when accumulate != 0): how much the two remapped patches disagree. */
LL_KERNEL pm_pairwise_error_f32(float* err, const float* src, const int* nnf, const float* weights, ll_i64 pairs,
                                ll_i64 h, ll_i64 w, ll_i64 sh, ll_i64 sw, ll_i64 pad, ll_i64 r, ll_i64 accumulate) {
  ll_i64 rr = pm_clamp(r, 0, pad);
  ll_i64 stw = sw + 2 * pad, sth = sh + 2 * pad, hw = h * w;
  LL_FOR_EACH(i, pairs * hw) {
    ll_i64 k = i / hw, rem = i - k * hw;
    ll_i64 ia = 2 * k * hw + rem, ib = ia + hw;
    ll_i64 ay = pm_clamp(nnf[2 * ia], 0, sh - 1), ax = pm_clamp(nnf[2 * ia + 1], 0, sw - 1);
    ll_i64 by = pm_clamp(nnf[2 * ib], 0, sh - 1), bx = pm_clamp(nnf[2 * ib + 1], 0, sw - 1);
    const float* a = src + ((2 * k * sth + ay + pad) * stw + ax + pad) * PM_C;
    const float* s = src + (((2 * k + 1) * sth + by + pad) * stw + bx + pad) * PM_C;
    float e = pm_patch_distance(a, stw * PM_C, s, stw * PM_C, rr, weights);
    err[ia] = accumulate ? err[ia] + e : e;
    err[ib] = accumulate ? err[ib] + e : e;
  }
}

/* Keeps the candidate where its error is strictly lower (ties keep the current match). Each
 * pixel reads and writes only itself, so nnf and err are updated in place. */
LL_KERNEL pm_accept_f32(int* nnf, float* err, const int* cand, const float* cand_err, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    if (cand_err[i] < err[i]) {
      err[i] = cand_err[i];
      nnf[2 * i] = cand[2 * i];
      nnf[2 * i + 1] = cand[2 * i + 1];
    }
  }
}

/* The vote: out(q) = mean of style(phi(q + o) - o) over the o in the (2r+1)^2 patch with q + o
 * inside the target and phi(q + o) - o inside the source (each overlapping patch's opinion of q).
 * A gather per target pixel in a fixed order: no atomics. No valid o (a corrupt field) gives 0. */
LL_KERNEL pm_remap_f32(float* out, const float* style, const int* nnf, ll_i64 b, ll_i64 h, ll_i64 w, ll_i64 sh,
                       ll_i64 sw, ll_i64 r) {
  LL_FOR_EACH(i, b * h * w) {
    ll_i64 bi = i / (h * w), rem = i - bi * h * w, y = rem / w, x = rem - y * w;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int count = 0;
    for (ll_i64 oy = -r; oy <= r; oy++) {
      ll_i64 qy = y + oy;
      if (qy < 0 || qy >= h) continue;
      for (ll_i64 ox = -r; ox <= r; ox++) {
        ll_i64 qx = x + ox;
        if (qx < 0 || qx >= w) continue;
        const int* f = nnf + 2 * ((bi * h + qy) * w + qx);
        ll_i64 sy = (ll_i64)f[0] - oy, sx = (ll_i64)f[1] - ox;
        if (sy < 0 || sy >= sh || sx < 0 || sx >= sw) continue;
        const float* p = style + ((bi * sh + sy) * sw + sx) * 4;
        for (int c = 0; c < 4; c++) acc[c] += p[c];
        count++;
      }
    }
    for (int c = 0; c < 4; c++) out[i * 4 + c] = count ? acc[c] / (float)count : 0.0f;
  }
}

/* out[i] = mean over k < b of x[k*n + i], summed in order k = 0, 1, …: the consensus target of
 * FastBlend's accurate mode. */
LL_KERNEL pm_batch_mean_f32(float* out, const float* x, ll_i64 b, ll_i64 n) {
  LL_FOR_EACH(i, n) {
    float acc = 0.0f;
    for (ll_i64 k = 0; k < b; k++) acc += x[k * n + i];
    out[i] = acc / (float)b;
  }
}
