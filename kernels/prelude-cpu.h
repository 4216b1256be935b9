/* Prelude for the CPU backend: the same kernels/*.cu sources compile as C99 (gcc/clang with
 * -fopenmp, or Bun's built-in TinyCC without it). The generated launcher calls a kernel once per
 * OpenMP thread; each thread takes one contiguous chunk of the index range, so the loop body is a
 * plain loop the compiler can vectorise instead of a per-element call. */
#include <math.h>
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define LL_CPU 1
#define LL_KERNEL static void
#define LL_DEVICE static inline
#define LL_RESTRICT restrict

typedef long long ll_i64;
typedef unsigned short ll_half;

#ifdef _OPENMP
#define LL_THREAD ((ll_i64)omp_get_thread_num())
#define LL_THREADS ((ll_i64)omp_get_num_threads())
#else
#define LL_THREAD ((ll_i64)0)
#define LL_THREADS ((ll_i64)1)
#endif

/* Thread t of T owns [n*t/T, n*(t+1)/T): contiguous, balanced, and covering [0, n) exactly. */
LL_DEVICE ll_i64 ll_chunk_begin(ll_i64 n) { return n / LL_THREADS * LL_THREAD + (n % LL_THREADS) * LL_THREAD / LL_THREADS; }
LL_DEVICE ll_i64 ll_chunk_end(ll_i64 n) { return n / LL_THREADS * (LL_THREAD + 1) + (n % LL_THREADS) * (LL_THREAD + 1) / LL_THREADS; }

#define LL_FOR_EACH(i, n) \
  for (ll_i64 i = ll_chunk_begin(n), i##_end = ll_chunk_end(n); i < i##_end; i++)

/* Row kernels: each thread takes a chunk of rows and is the only lane of its "block". */
#define LL_FOR_ROW(row, rows) \
  for (ll_i64 row = ll_chunk_begin(rows), row##_end = ll_chunk_end(rows); row < row##_end; row++)
#define LL_ROW_LANE 0
#define LL_ROW_LANES 1
#define LL_SHARED
#define LL_SYNC() ((void)0)

/* IEEE half <-> float, round to nearest even, with subnormals, infinities and NaN. */
LL_DEVICE float ll_h2f(ll_half h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
  if (exp == 0x1fu) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {
    /* subnormal half: normalise the mantissa */
    exp = 113u;
    while (!(man & 0x400u)) { man <<= 1; exp--; }
    bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
  }
  union { uint32_t u; float f; } v;
  v.u = bits;
  return v.f;
}

LL_DEVICE ll_half ll_f2h(float f) {
  union { float f; uint32_t u; } v;
  v.f = f;
  uint32_t x = v.u, sign = (x >> 16) & 0x8000u, absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return (ll_half)(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  if (absx >= 0x477ff000u) return (ll_half)(sign | 0x7c00u); /* rounds to >= 65520: overflow */
  if (absx < 0x38800000u) {
    /* result is subnormal (or zero): shift the full mantissa into place, round half to even */
    if (absx < 0x33000000u) return (ll_half)sign;
    uint32_t e = absx >> 23, m = (absx & 0x7fffffu) | 0x800000u, shift = 126u - e;
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (ll_half)(sign | q);
  }
  uint32_t q = ((absx - 0x38000000u) >> 13), rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) q++;
  return (ll_half)(sign | q);
}
