/* Prelude for the CUDA backend (NVRTC, and nvcc --ptx in tests). Kernels in kernels/*.cu are
 * written in a C-compatible subset of CUDA C against the LL_* names defined here and in
 * prelude-cpu.h, so the same source compiles for the GPU and, as plain C, for the CPU. */
#define LL_CUDA 1
#define LL_KERNEL extern "C" __global__ void
#define LL_DEVICE static __device__ __forceinline__
#define LL_RESTRICT __restrict__

typedef long long ll_i64;
/* f16 values travel as their IEEE bit patterns; conversion uses PTX so no header is needed. */
typedef unsigned short ll_half;

LL_DEVICE float ll_h2f(ll_half h) {
  float f;
  asm("{ .reg .b16 t; mov.b16 t, %1; cvt.f32.f16 %0, t; }" : "=f"(f) : "h"(h));
  return f;
}
LL_DEVICE ll_half ll_f2h(float f) {
  ll_half h;
  asm("{ .reg .b16 t; cvt.rn.f16.f32 t, %1; mov.b16 %0, t; }" : "=h"(h) : "f"(f));
  return h;
}

/* Grid-stride loop over [0, n): ordinary CUDA style. */
#define LL_FOR_EACH(i, n) \
  for (ll_i64 i = (ll_i64)blockIdx.x * blockDim.x + threadIdx.x; i < (ll_i64)(n); \
       i += (ll_i64)blockDim.x * gridDim.x)

/* Row kernels: one block per row, threads of the block stride over the row. */
#define LL_ROW ((ll_i64)blockIdx.x)
#define LL_FOR_ROW(row, rows) for (ll_i64 row = blockIdx.x; row < (ll_i64)(rows); row += gridDim.x)
#define LL_ROW_LANE threadIdx.x
#define LL_ROW_LANES blockDim.x
#define LL_SHARED __shared__
#define LL_SYNC() __syncthreads()
