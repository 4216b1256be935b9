/* A stand-in for libcuda + libnvrtc, for machines without a GPU. Device memory is host memory,
 * "PTX" is a marker string, and kernels are a few C functions looked up by name. It lets the
 * tests drive the real bun:ffi bindings end to end: symbol names, argument order, out-pointers,
 * the kernelParams block, error names. It checks what a real driver would reject. */
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
enum { OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, INVALID_CONTEXT = 201, INVALID_PTX = 218, INVALID_HANDLE = 400, NOT_FOUND = 500 };

static void *const CONTEXT = (void *)0x5eed;
static void *current = 0;

CUresult cuInit(unsigned int flags) { return flags == 0 ? OK : INVALID_VALUE; }
CUresult cuDriverGetVersion(int *v) { *v = 12080; return OK; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return OK; }
CUresult cuDeviceGet(int *dev, int ordinal) { if (ordinal != 0) return INVALID_VALUE; *dev = 0; return OK; }
CUresult cuDeviceGetName(char *name, int len, int dev) { strncpy(name, "Fake GPU", (size_t)len); return dev == 0 ? OK : INVALID_VALUE; }
CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
  if (dev != 0) return INVALID_VALUE;
  switch (attr) {
    case 16: *v = 4; return OK;   /* multiprocessors */
    case 75: *v = 8; return OK;   /* compute capability 8.6 */
    case 76: *v = 6; return OK;
    default: return INVALID_VALUE;
  }
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int dev) { *bytes = (size_t)3 << 30; return dev == 0 ? OK : INVALID_VALUE; }
static int retained = 0;
CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) { *ctx = CONTEXT; retained++; return dev == 0 ? OK : INVALID_VALUE; }
CUresult cuDevicePrimaryCtxRelease_v2(int dev) { if (dev != 0 || retained == 0) return INVALID_CONTEXT; retained--; return OK; }
CUresult cuCtxSetCurrent(void *ctx) { if (ctx != CONTEXT) return INVALID_CONTEXT; current = ctx; return OK; }
CUresult cuCtxSynchronize(void) { return current ? OK : INVALID_CONTEXT; }

typedef struct { int magic; long long recorded; } Handle;
static long long clock_ticks = 0;
static CUresult make(void **out, int magic) {
  Handle *h = calloc(1, sizeof *h);
  h->magic = magic;
  *out = h;
  return current ? OK : INVALID_CONTEXT;
}
static int is(void *p, int magic) { return p && ((Handle *)p)->magic == magic; }
CUresult cuStreamCreate(void **s, unsigned int flags) { return flags == 1 ? make(s, 'S') : INVALID_VALUE; }
CUresult cuStreamDestroy_v2(void *s) { if (!is(s, 'S')) return INVALID_HANDLE; free(s); return OK; }
CUresult cuStreamSynchronize(void *s) { return is(s, 'S') ? OK : INVALID_HANDLE; }
CUresult cuEventCreate(void **e, unsigned int flags) { return flags == 0 ? make(e, 'E') : INVALID_VALUE; }
CUresult cuEventRecord(void *e, void *s) {
  if (!is(e, 'E') || !is(s, 'S')) return INVALID_HANDLE;
  ((Handle *)e)->recorded = ++clock_ticks;
  return OK;
}
CUresult cuEventSynchronize(void *e) { return is(e, 'E') ? OK : INVALID_HANDLE; }
/* Each record advances a fake clock by 1.5 ms. Drivers before CUDA 12.8 export only the
 * unversioned name; -DFAKE_LEGACY_TIMING builds that kind of driver. */
#ifdef FAKE_LEGACY_TIMING
CUresult cuEventElapsedTime(float *ms, void *start, void *end) {
#else
CUresult cuEventElapsedTime_v2(float *ms, void *start, void *end) {
#endif
  if (!is(start, 'E') || !is(end, 'E')) return INVALID_HANDLE;
  *ms = 1.5f * (float)(((Handle *)end)->recorded - ((Handle *)start)->recorded);
  return OK;
}
CUresult cuEventDestroy_v2(void *e) { if (!is(e, 'E')) return INVALID_HANDLE; free(e); return OK; }

/* Device memory: FAKE_CUDA_MEMORY_LIMIT (bytes, read once) caps what may be allocated at a time,
 * so tests can run a device out of memory; each block keeps its size in a 16-byte header. */
static size_t live_bytes = 0;
static size_t memory_limit(void) {
  static int known = 0;
  static size_t limit = 0;
  if (!known) {
    const char *v = getenv("FAKE_CUDA_MEMORY_LIMIT");
    limit = v ? (size_t)strtoull(v, 0, 10) : 0;
    known = 1;
  }
  return limit;
}
CUresult cuMemAlloc_v2(unsigned long long *dptr, size_t bytes) {
  if (!current) return INVALID_CONTEXT;
  if (bytes == 0) return INVALID_VALUE;
  if (bytes > ((size_t)1 << 34)) return OUT_OF_MEMORY;
  if (memory_limit() && live_bytes + bytes > memory_limit()) return OUT_OF_MEMORY;
  char *block = malloc(bytes + 16);
  *(size_t *)block = bytes;
  live_bytes += bytes;
  memset(block + 16, 0xAB, bytes); /* garbage, so a missing memset shows */
  *dptr = (unsigned long long)(size_t)(block + 16);
  return OK;
}
/* Total = the limit (3 GiB when none is set), free = what is not allocated. */
CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes) {
  if (!current) return INVALID_CONTEXT;
  size_t total = memory_limit() ? memory_limit() : (size_t)3 << 30;
  *total_bytes = total;
  *free_bytes = total - live_bytes;
  return OK;
}
CUresult cuMemFree_v2(unsigned long long dptr) {
  char *block = (char *)(size_t)dptr - 16;
  live_bytes -= *(size_t *)block;
  free(block);
  return OK;
}
CUresult cuMemcpyHtoDAsync_v2(unsigned long long dst, const void *src, size_t n, void *s) {
  if (!is(s, 'S')) return INVALID_HANDLE;
  memcpy((void *)(size_t)dst, src, n);
  return OK;
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, unsigned long long src, size_t n, void *s) {
  if (!is(s, 'S')) return INVALID_HANDLE;
  memcpy(dst, (const void *)(size_t)src, n);
  return OK;
}
CUresult cuMemcpyDtoDAsync_v2(unsigned long long dst, unsigned long long src, size_t n, void *s) {
  if (!is(s, 'S')) return INVALID_HANDLE;
  memmove((void *)(size_t)dst, (const void *)(size_t)src, n);
  return OK;
}
CUresult cuMemsetD8Async(unsigned long long dst, unsigned char v, size_t n, void *s) {
  if (!is(s, 'S')) return INVALID_HANDLE;
  memset((void *)(size_t)dst, v, n);
  return OK;
}

/* Kernels: simulate every (block, thread) of the grid, each running its grid-stride loop. */
typedef struct { unsigned grid, block; } Dims;
static void lerp_f32(Dims d, void **p) {
  float *out = *(float **)p[0], *a = *(float **)p[1], *b = *(float **)p[2];
  float t = *(float *)p[3];
  long long n = *(long long *)p[4];
  for (unsigned bi = 0; bi < d.grid; bi++)
    for (unsigned ti = 0; ti < d.block; ti++)
      for (long long i = (long long)bi * d.block + ti; i < n; i += (long long)d.block * d.grid) out[i] = a[i] + t * (b[i] - a[i]);
}
static void scale_i32(Dims d, void **p) { /* out[i] = k * i + offset, for integer argument checks */
  long long *out = *(long long **)p[0];
  int k = *(int *)p[1];
  long long offset = *(long long *)p[2];
  long long n = *(long long *)p[3];
  for (unsigned bi = 0; bi < d.grid; bi++)
    for (unsigned ti = 0; ti < d.block; ti++)
      for (long long i = (long long)bi * d.block + ti; i < n; i += (long long)d.block * d.grid) out[i] = (long long)k * i + offset;
}
typedef struct { const char *name; void (*fn)(Dims, void **); } KernelEntry;
static const KernelEntry kernels[] = {{"lerp_f32", lerp_f32}, {"scale_i32", scale_i32}};

CUresult cuModuleLoadData(void **module, const void *image) {
  if (strncmp((const char *)image, "//fake-ptx", 10) != 0) return INVALID_PTX;
  return make(module, 'M');
}
CUresult cuModuleUnload(void *m) { if (!is(m, 'M')) return INVALID_HANDLE; free(m); return OK; }
CUresult cuModuleGetFunction(void **fn, void *m, const char *name) {
  if (!is(m, 'M')) return INVALID_HANDLE;
  for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++)
    if (strcmp(kernels[i].name, name) == 0) { *fn = (void *)&kernels[i]; return OK; }
  return NOT_FOUND;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *s, void **params, void **extra) {
  if (!current) return INVALID_CONTEXT;
  if (!is(s, 'S') || !f) return INVALID_HANDLE;
  if (gx == 0 || gy != 1 || gz != 1 || bx == 0 || bx > 1024 || by != 1 || bz != 1 || shared != 0 || extra) return INVALID_VALUE;
  ((const KernelEntry *)f)->fn((Dims){gx, bx}, params);
  return OK;
}

static const char *error_name(int code) {
  switch (code) {
    case OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
    case NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
    case INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
    default: return 0;
  }
}
CUresult cuGetErrorName(int code, const char **s) { *s = error_name(code); return *s ? OK : INVALID_VALUE; }
CUresult cuGetErrorString(int code, const char **s) {
  *s = code == OUT_OF_MEMORY ? "out of memory" : code == NOT_FOUND ? "named symbol not found" : code == INVALID_VALUE ? "invalid argument" : 0;
  return *s ? OK : INVALID_VALUE;
}

/* NVRTC: "compiles" by checking the options and wrapping them into the marker PTX. */
typedef struct { char *src, *name, *ptx, *log; } Program;
int nvrtcVersion(int *major, int *minor) { *major = 12; *minor = 8; return 0; }
int nvrtcGetNumSupportedArchs(int *n) { *n = 3; return 0; }
int nvrtcGetSupportedArchs(int *a) { a[0] = 75; a[1] = 80; a[2] = 86; return 0; }
int nvrtcCreateProgram(Program **prog, const char *src, const char *name, int nh, const char *const *h, const char *const *hn) {
  if (nh != 0 || h || hn) return 3;
  Program *p = calloc(1, sizeof *p);
  p->src = strdup(src);
  p->name = strdup(name);
  *prog = p;
  return 0;
}
int nvrtcCompileProgram(Program *p, int n, const char *const *options) {
  size_t size = 64 + strlen(p->src);
  for (int i = 0; i < n; i++) size += strlen(options[i]) + 2;
  p->ptx = calloc(1, size);
  strcpy(p->ptx, "//fake-ptx options:");
  for (int i = 0; i < n; i++) { strcat(p->ptx, " "); strcat(p->ptx, options[i]); }
  const char *bad = strstr(p->src, "#error");
  if (bad) {
    p->log = calloc(1, 256 + strlen(p->name));
    strcpy(p->log, p->name);
    strcat(p->log, "(2): error: fake compile failure\n  #error\n\n1 error detected.\n");
    return 6;
  }
  p->log = strdup("");
  return 0;
}
int nvrtcGetProgramLogSize(Program *p, size_t *n) { *n = strlen(p->log) + 1; return 0; }
int nvrtcGetProgramLog(Program *p, char *out) { strcpy(out, p->log); return 0; }
int nvrtcGetPTXSize(Program *p, size_t *n) { *n = strlen(p->ptx) + 1; return 0; }
int nvrtcGetPTX(Program *p, char *out) { strcpy(out, p->ptx); return 0; }
int nvrtcDestroyProgram(Program **p) { free((*p)->src); free((*p)->name); free((*p)->ptx); free((*p)->log); free(*p); *p = 0; return 0; }
const char *nvrtcGetErrorString(int code) { return code == 6 ? "NVRTC_ERROR_COMPILATION" : "NVRTC_ERROR_OTHER"; }
