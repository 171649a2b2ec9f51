/*
 * famfs_dax: the few system calls and CPU instructions Node.js cannot reach on its own.
 *   mmap(fd, offset, length, writable) -> ArrayBuffer  MAP_SHARED mapping, unmapped when collected
 *   unmap(arrayBuffer)                             detach it now (later access sees length 0, never freed memory)
 *   flush(view, offset, length)                    write back CPU cache lines (clwb > clflushopt > clflush)
 *   invalidate(view, offset, length)               write back and evict lines, so the next read comes from memory
 *   zero(view, offset, length)                     zero-fill with non-temporal stores: straight to memory, no flush needed
 *   verifyLog(region, headerSize, entrySize, from, to) -> index  first entry in [from, to) whose seqnum
 *                                                  is not its index or whose CRC-32 does not match; -1 if none
 *   populate(view, offset, length)                 pre-fault pages (MADV_POPULATE_READ) before reading a range
 *   isHole(fd, offset, length) -> boolean          the file has no data there (reads as zeros): SEEK_DATA
 *   flock(fd, exclusive, wait) -> boolean          advisory lock; wait=false returns false instead of blocking
 *   cacheFlushMethod() -> string                   which instruction flush() uses on this CPU
 *   probeRead(view, offset, length, stride) -> off  read one byte every `stride` bytes (and the last one)
 *                                                  under a SIGBUS guard; -1 if all read fine, else the
 *                                                  view offset of the byte that faulted
 * Fabric-attached memory need not be coherent across hosts, which is why famfs flushes after
 * writing metadata and invalidates before reading it.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#define CACHE_LINE 64

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "famfs_dax: N-API call failed");    \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  const char *name = "EIO";
  switch (err) {
    case ENOENT: name = "ENOENT"; break;
    case EACCES: name = "EACCES"; break;
    case EPERM: name = "EPERM"; break;
    case EINVAL: name = "EINVAL"; break;
    case ENOMEM: name = "ENOMEM"; break;
    case ENXIO: name = "ENXIO"; break;
    case ENODEV: name = "ENODEV"; break;
    case EBADF: name = "EBADF"; break;
    case EWOULDBLOCK: name = "EWOULDBLOCK"; break;
    case EINTR: name = "EINTR"; break;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &error);
  napi_value errnoValue;
  napi_create_int32(env, err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

/* ---- cache maintenance ---- */

enum flush_kind { FLUSH_NONE, FLUSH_CLFLUSH, FLUSH_CLFLUSHOPT, FLUSH_CLWB };
static enum flush_kind flush_kind = FLUSH_NONE;

#if defined(__x86_64__)
#include <cpuid.h>
static void detect_flush(void) {
  unsigned a, b, c, d;
  flush_kind = FLUSH_CLFLUSH; /* part of SSE2, always on x86-64 */
  if (__get_cpuid_max(0, NULL) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    if (b & (1u << 24)) flush_kind = FLUSH_CLWB;
    else if (b & (1u << 23)) flush_kind = FLUSH_CLFLUSHOPT;
  }
}
static inline void line_clflush(const char *p) { __asm__ volatile("clflush %0" : "+m"(*(volatile char *)p)); }
/* Encoded as bytes so the file builds with assemblers and -march settings that lack the mnemonics. */
static inline void line_clflushopt(const char *p) { __asm__ volatile(".byte 0x66; clflush %0" : "+m"(*(volatile char *)p)); }
static inline void line_clwb(const char *p) { __asm__ volatile(".byte 0x66; xsaveopt %0" : "+m"(*(volatile char *)p)); }
static inline void store_fence(void) { __asm__ volatile("sfence" ::: "memory"); }
static inline void full_fence(void) { __asm__ volatile("mfence" ::: "memory"); }

static void cache_range(const char *start, size_t len, int evict) {
  uintptr_t p = (uintptr_t)start & ~(uintptr_t)(CACHE_LINE - 1);
  uintptr_t end = (uintptr_t)start + len;
  enum flush_kind kind = flush_kind;
  if (evict && kind == FLUSH_CLWB) kind = FLUSH_CLFLUSHOPT; /* clwb may keep the line cached */
  for (; p < end; p += CACHE_LINE) {
    switch (kind) {
      case FLUSH_CLWB: line_clwb((const char *)p); break;
      case FLUSH_CLFLUSHOPT: line_clflushopt((const char *)p); break;
      default: line_clflush((const char *)p); break;
    }
  }
  if (evict) full_fence(); else store_fence();
}
#elif defined(__aarch64__)
static void detect_flush(void) { flush_kind = FLUSH_CLFLUSH; }
static void cache_range(const char *start, size_t len, int evict) {
  uintptr_t p = (uintptr_t)start & ~(uintptr_t)(CACHE_LINE - 1);
  uintptr_t end = (uintptr_t)start + len;
  for (; p < end; p += CACHE_LINE) {
    if (evict) __asm__ volatile("dc civac, %0" ::"r"(p) : "memory");
    else __asm__ volatile("dc cvac, %0" ::"r"(p) : "memory");
  }
  __asm__ volatile("dsb sy" ::: "memory");
}
#else
static void detect_flush(void) { flush_kind = FLUSH_NONE; }
static void cache_range(const char *start, size_t len, int evict) {
  (void)start; (void)len; (void)evict;
  __sync_synchronize();
}
#endif

#if defined(__x86_64__)
#include <emmintrin.h>
/* Non-temporal stores bypass the cache, so zeroed memory is visible to other hosts after the fence. */
static void zero_range(char *p, size_t len) {
  char *end = p + len;
  while (p < end && ((uintptr_t)p & 15)) *p++ = 0;
  __m128i z = _mm_setzero_si128();
  for (; p + 64 <= end; p += 64) {
    _mm_stream_si128((__m128i *)p, z);
    _mm_stream_si128((__m128i *)(p + 16), z);
    _mm_stream_si128((__m128i *)(p + 32), z);
    _mm_stream_si128((__m128i *)(p + 48), z);
  }
  for (; p + 16 <= end; p += 16) _mm_stream_si128((__m128i *)p, z);
  while (p < end) *p++ = 0;
  _mm_sfence();
}
#else
static void zero_range(char *p, size_t len) {
  memset(p, 0, len);
  cache_range(p, len, 0);
}
#endif

/* ---- CRC-32 (zlib's: reflected 0xEDB88320, init and final xor 0xFFFFFFFF), slicing by 8 ---- */

static uint32_t crc_table[8][256];

static void crc_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++)
    for (int t = 1; t < 8; t++) crc_table[t][n] = (crc_table[t - 1][n] >> 8) ^ crc_table[0][crc_table[t - 1][n] & 0xff];
}

static uint32_t crc32_table_update(uint32_t c, const uint8_t *p, size_t len) {
  while (len && ((uintptr_t)p & 7)) { c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8); len--; }
  while (len >= 8) {
    uint32_t lo, hi;
    memcpy(&lo, p, 4);
    memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
        crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--) c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
/*
 * Carry-less multiplication folding (Gopal et al., "Fast CRC Computation for Generic Polynomials
 * Using PCLMULQDQ", Intel 2009) for the bit-reflected CRC-32 polynomial. The constants are
 * x^(4*128+32) mod P, x^(4*128-32) mod P (fold by 4 blocks), x^(128+32), x^(128-32) (fold by
 * one block), x^64 mod P, and P' / mu for the final Barrett reduction.
 */
static int have_pclmul = 0;

__attribute__((target("pclmul,sse4.1")))
static uint32_t crc32_fold(uint32_t c, const uint8_t *p, size_t len) {
  const __m128i fold4 = _mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL);
  const __m128i fold1 = _mm_set_epi64x(0x00ccaa009eLL, 0x01751997d0LL);
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124LL);
  const __m128i barrett = _mm_set_epi64x(0x01f7011641LL, 0x01db710641LL);
  const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
  __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)c));
  __m128i b = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i d = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i e = _mm_loadu_si128((const __m128i *)(p + 48));
  p += 64;
  len -= 64;
  for (; len >= 64; p += 64, len -= 64) {
    a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, fold4, 0x00), _mm_clmulepi64_si128(a, fold4, 0x11)), _mm_loadu_si128((const __m128i *)p));
    b = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(b, fold4, 0x00), _mm_clmulepi64_si128(b, fold4, 0x11)), _mm_loadu_si128((const __m128i *)(p + 16)));
    d = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(d, fold4, 0x00), _mm_clmulepi64_si128(d, fold4, 0x11)), _mm_loadu_si128((const __m128i *)(p + 32)));
    e = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(e, fold4, 0x00), _mm_clmulepi64_si128(e, fold4, 0x11)), _mm_loadu_si128((const __m128i *)(p + 48)));
  }
  a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, fold1, 0x00), _mm_clmulepi64_si128(a, fold1, 0x11)), b);
  a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, fold1, 0x00), _mm_clmulepi64_si128(a, fold1, 0x11)), d);
  a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, fold1, 0x00), _mm_clmulepi64_si128(a, fold1, 0x11)), e);
  for (; len >= 16; p += 16, len -= 16)
    a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, fold1, 0x00), _mm_clmulepi64_si128(a, fold1, 0x11)), _mm_loadu_si128((const __m128i *)p));
  /* 128 -> 64 bits, then 64 -> 32 bits, then Barrett reduction. */
  __m128i t = _mm_xor_si128(_mm_srli_si128(a, 8), _mm_clmulepi64_si128(a, fold1, 0x10));
  t = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(t, low32), k5, 0x00), _mm_srli_si128(t, 4));
  __m128i r = _mm_clmulepi64_si128(_mm_and_si128(t, low32), barrett, 0x10);
  r = _mm_clmulepi64_si128(_mm_and_si128(r, low32), barrett, 0x00);
  c = (uint32_t)_mm_extract_epi32(_mm_xor_si128(t, r), 1);
  return len ? crc32_table_update(c, p, len) : c;
}

static void detect_pclmul(void) {
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) have_pclmul = (c & bit_PCLMUL) && (c & bit_SSE4_1);
}
#else
static void detect_pclmul(void) {}
#endif

static uint32_t crc32_bytes(const uint8_t *p, size_t len) {
  uint32_t c = 0xFFFFFFFFu;
#if defined(__x86_64__)
  if (have_pclmul && len >= 64) return crc32_fold(c, p, len) ^ 0xFFFFFFFFu;
#endif
  return crc32_table_update(c, p, len) ^ 0xFFFFFFFFu;
}

/* ---- argument helpers ---- */

static int get_int64(napi_env env, napi_value v, const char *name, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "famfs_dax: %s must be a number", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static int get_view(napi_env env, napi_value value, char **base, size_t *count) {
  napi_typedarray_type type;
  size_t byte_offset;
  void *data;
  napi_value ab;
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &type, count, &data, &ab, &byte_offset) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "famfs_dax: first argument must be a Buffer or Uint8Array");
    return 0;
  }
  *base = (char *)data;
  return 1;
}

static int get_range(napi_env env, napi_value *argv, char **base, size_t *len) {
  size_t count;
  char *data;
  int64_t off, n;
  if (!get_view(env, argv[0], &data, &count)) return 0;
  if (!get_int64(env, argv[1], "offset", &off) || !get_int64(env, argv[2], "length", &n)) return 0;
  if (off < 0 || n < 0 || (uint64_t)off + (uint64_t)n > count) {
    napi_throw_range_error(env, NULL, "famfs_dax: range is outside the buffer");
    return 0;
  }
  *base = data + off;
  *len = (size_t)n;
  return 1;
}

/* ---- exported functions ---- */

static void unmap_finalizer(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value js_mmap(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd, off, len;
  bool writable = false;
  if (argc < 4) { napi_throw_type_error(env, NULL, "famfs_dax.mmap(fd, offset, length, writable)"); return NULL; }
  if (!get_int64(env, argv[0], "fd", &fd) || !get_int64(env, argv[1], "offset", &off) ||
      !get_int64(env, argv[2], "length", &len))
    return NULL;
  CHECK(napi_get_value_bool(env, argv[3], &writable));
  if (fd < 0 || off < 0 || len <= 0) { napi_throw_range_error(env, NULL, "famfs_dax.mmap: bad fd, offset or length"); return NULL; }
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void *addr = mmap(NULL, (size_t)len, prot, MAP_SHARED, (int)fd, (off_t)off);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", errno);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, (size_t)len, unmap_finalizer, (void *)(uintptr_t)len, &ab) != napi_ok) {
    munmap(addr, (size_t)len);
    napi_throw_error(env, NULL, "famfs_dax.mmap: could not wrap the mapping in an ArrayBuffer");
    return NULL;
  }
  return ab;
}

static napi_value js_unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool detached = false;
  if (argc < 1) { napi_throw_type_error(env, NULL, "famfs_dax.unmap(arrayBuffer)"); return NULL; }
  CHECK(napi_is_detached_arraybuffer(env, argv[0], &detached));
  if (!detached) CHECK(napi_detach_arraybuffer(env, argv[0]));
  return NULL;
}

static napi_value cache_op(napi_env env, napi_callback_info info, int evict) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) { napi_throw_type_error(env, NULL, "famfs_dax: (buffer, offset, length) expected"); return NULL; }
  char *base;
  size_t len;
  if (!get_range(env, argv, &base, &len)) return NULL;
  if (len > 0) cache_range(base, len, evict);
  return NULL;
}

static napi_value js_zero(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) { napi_throw_type_error(env, NULL, "famfs_dax.zero(view, offset, length)"); return NULL; }
  char *base;
  size_t len;
  if (!get_range(env, argv, &base, &len)) return NULL;
  zero_range(base, len);
  return NULL;
}

static napi_value js_flush(napi_env env, napi_callback_info info) { return cache_op(env, info, 0); }

/* Entry layout (see src/famfs/logEntry.ts): u64 seqnum at 0, u64 crc at entrySize - 8 over [0, entrySize - 8). */
static napi_value js_verify_log(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) { napi_throw_type_error(env, NULL, "famfs_dax.verifyLog(region, headerSize, entrySize, from, to)"); return NULL; }
  char *base;
  size_t count;
  if (!get_view(env, argv[0], &base, &count)) return NULL;
  int64_t header, esize, from, to;
  if (!get_int64(env, argv[1], "headerSize", &header) || !get_int64(env, argv[2], "entrySize", &esize) ||
      !get_int64(env, argv[3], "from", &from) || !get_int64(env, argv[4], "to", &to))
    return NULL;
  if (header < 0 || esize < 16 || from < 0 || to < from || (uint64_t)header + (uint64_t)to * (uint64_t)esize > count) {
    napi_throw_range_error(env, NULL, "famfs_dax.verifyLog: entries outside the region");
    return NULL;
  }
  int64_t bad = -1;
  for (int64_t i = from; i < to; i++) {
    const uint8_t *e = (const uint8_t *)base + header + i * esize;
    uint64_t seq, crc;
    memcpy(&seq, e, 8);
    memcpy(&crc, e + esize - 8, 8);
    if (seq != (uint64_t)i || crc != (uint64_t)crc32_bytes(e, (size_t)esize - 8)) { bad = i; break; }
  }
  napi_value result;
  CHECK(napi_create_int64(env, bad, &result));
  return result;
}

static napi_value js_crc32(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) { napi_throw_type_error(env, NULL, "famfs_dax.crc32(view, offset, length)"); return NULL; }
  char *base;
  size_t len;
  if (!get_range(env, argv, &base, &len)) return NULL;
  napi_value result;
  CHECK(napi_create_uint32(env, crc32_bytes((const uint8_t *)base, len), &result));
  return result;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

static napi_value js_populate(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) { napi_throw_type_error(env, NULL, "famfs_dax.populate(view, offset, length)"); return NULL; }
  char *base;
  size_t len;
  if (!get_range(env, argv, &base, &len)) return NULL;
  uintptr_t start = (uintptr_t)base & ~(uintptr_t)4095;
  uintptr_t end = ((uintptr_t)base + len + 4095) & ~(uintptr_t)4095;
  /* Best effort: older kernels (< 5.14) lack MADV_POPULATE_READ and simply fault on access. */
  if (end > start) (void)madvise((void *)start, end - start, MADV_POPULATE_READ);
  return NULL;
}

static napi_value js_is_hole(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd, off, len;
  if (argc < 3 || !get_int64(env, argv[0], "fd", &fd) || !get_int64(env, argv[1], "offset", &off) ||
      !get_int64(env, argv[2], "length", &len))
    return NULL;
  off_t data = lseek((int)fd, (off_t)off, SEEK_DATA);
  bool hole;
  if (data < 0) hole = (errno == ENXIO); /* no data from off to end of file */
  else hole = data >= off + len;
  napi_value result;
  CHECK(napi_get_boolean(env, hole, &result));
  return result;
}
static napi_value js_invalidate(napi_env env, napi_callback_info info) { return cache_op(env, info, 1); }

static napi_value js_flock(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd;
  bool exclusive = true, wait = false;
  if (argc < 3) { napi_throw_type_error(env, NULL, "famfs_dax.flock(fd, exclusive, wait)"); return NULL; }
  if (!get_int64(env, argv[0], "fd", &fd)) return NULL;
  CHECK(napi_get_value_bool(env, argv[1], &exclusive));
  CHECK(napi_get_value_bool(env, argv[2], &wait));
  int op = exclusive ? LOCK_EX : LOCK_SH;
  if (!wait) op |= LOCK_NB;
  int rc;
  do { rc = flock((int)fd, op); } while (rc != 0 && errno == EINTR);
  napi_value result;
  if (rc != 0) {
    if (errno == EWOULDBLOCK && !wait) { CHECK(napi_get_boolean(env, false, &result)); return result; }
    return throw_errno(env, "flock", errno);
  }
  CHECK(napi_get_boolean(env, true, &result));
  return result;
}

static napi_value js_funlock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd;
  if (argc < 1 || !get_int64(env, argv[0], "fd", &fd)) return NULL;
  if (flock((int)fd, LOCK_UN) != 0) return throw_errno(env, "flock(LOCK_UN)", errno);
  return NULL;
}

/* ---- SIGBUS-guarded reads ----
 * A read of device memory raises SIGBUS when the memory is poisoned (BUS_MCEERR_AR, the way pmem
 * libraries learn of media errors) or when an emulated device file was truncated under its mapping
 * (BUS_ADRERR). probeRead() arms a per-thread sigjmp_buf around its volatile reads; the handler
 * siglongjmps back only when the faulting thread is inside a probe and the fault came from the
 * kernel. Any other SIGBUS goes to whatever was installed before us (a handler is called, SIG_DFL
 * is restored and the signal re-raised), so the process behaves as if we were not there. The
 * handler is installed once, lazily, by the first probe.
 */

struct probe_guard {
  sigjmp_buf env;
  uintptr_t lo, hi; /* [lo, hi): the addresses the probe reads */
};

/* initial-exec: static TLS, so the handler never triggers a lazy (malloc'ing) TLS allocation. */
static __thread struct probe_guard *volatile probe_armed __attribute__((tls_model("initial-exec")));
static __thread volatile uintptr_t probe_fault __attribute__((tls_model("initial-exec")));
static struct sigaction probe_previous;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_install_errno = 0;

static void probe_chain(int sig, siginfo_t *si, void *uctx) {
  int saved = errno;
  if (probe_previous.sa_flags & SA_SIGINFO) {
    if (probe_previous.sa_sigaction) probe_previous.sa_sigaction(sig, si, uctx);
    errno = saved;
    return;
  }
  void (*h)(int) = probe_previous.sa_handler;
  if (h == SIG_IGN && (si == NULL || si->si_code <= 0)) { errno = saved; return; } /* a sent SIGBUS, ignored as before */
  if (h != SIG_DFL && h != SIG_IGN) { h(sig); errno = saved; return; }
  /* SIG_DFL (or SIG_IGN for a fault, which the kernel turns into SIG_DFL): die of SIGBUS, as before. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, h == SIG_DFL ? &probe_previous : &dfl, NULL);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, sig);
  pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
  raise(sig);
  /* Still alive (a fault re-executes and is delivered again, now with the default action). */
  errno = saved;
}

static void probe_handler(int sig, siginfo_t *si, void *uctx) {
  struct probe_guard *g = probe_armed;
  if (g != NULL && si != NULL && si->si_code > 0) { /* si_code > 0: raised by the kernel for a fault */
    probe_armed = NULL;
    probe_fault = (uintptr_t)si->si_addr;
    siglongjmp(g->env, 1);
  }
  probe_chain(sig, si, uctx);
}

static void probe_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = probe_handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &probe_previous) != 0) probe_install_errno = errno;
}

/* Returns -1 if every probed byte of base[0, len) read fine, else the offset in it that faulted. */
static int64_t probe_range(const volatile uint8_t *base, size_t len, size_t stride) {
  struct probe_guard guard;
  volatile size_t at = 0;
  volatile uint8_t sink = 0;
  guard.lo = (uintptr_t)base;
  guard.hi = (uintptr_t)base + len;
  probe_fault = 0;
  if (sigsetjmp(guard.env, 1) != 0) {
    uintptr_t addr = probe_fault;
    if (addr >= guard.lo && addr < guard.hi) return (int64_t)(addr - guard.lo);
    return (int64_t)at; /* no usable si_addr: the access we were making */
  }
  probe_armed = &guard;
  __asm__ volatile("" ::: "memory");
  for (size_t i = 0; i < len; i += stride) {
    at = i;
    sink ^= base[i];
    if (stride > len - i) break;
  }
  if (len > 0) {
    at = len - 1;
    sink ^= base[len - 1];
  }
  __asm__ volatile("" ::: "memory");
  probe_armed = NULL;
  (void)sink;
  return -1;
}

static napi_value js_probe_read(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) { napi_throw_type_error(env, NULL, "famfs_dax.probeRead(view, offset, length, stride)"); return NULL; }
  char *base;
  size_t len;
  if (!get_range(env, argv, &base, &len)) return NULL;
  int64_t stride;
  if (!get_int64(env, argv[3], "stride", &stride)) return NULL;
  if (stride <= 0) { napi_throw_range_error(env, NULL, "famfs_dax.probeRead: stride must be positive"); return NULL; }
  pthread_once(&probe_once, probe_install);
  if (probe_install_errno != 0) return throw_errno(env, "sigaction(SIGBUS)", probe_install_errno);
  char *view;
  size_t count;
  if (!get_view(env, argv[0], &view, &count)) return NULL;
  int64_t bad = probe_range((const volatile uint8_t *)base, len, (size_t)stride);
  if (bad >= 0) bad += (int64_t)(base - view); /* relative to the view, not to `offset` */
  napi_value result;
  CHECK(napi_create_int64(env, bad, &result));
  return result;
}

static napi_value js_cache_flush_method(napi_env env, napi_callback_info info) {
  (void)info;
  const char *name = "none";
#if defined(__aarch64__)
  name = "dc cvac";
#else
  switch (flush_kind) {
    case FLUSH_CLWB: name = "clwb"; break;
    case FLUSH_CLFLUSHOPT: name = "clflushopt"; break;
    case FLUSH_CLFLUSH: name = "clflush"; break;
    default: break;
  }
#endif
  napi_value s;
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &s));
  return s;
}

static napi_value init(napi_env env, napi_value exports) {
  detect_flush();
  crc_init();
  detect_pclmul();
  napi_property_descriptor props[] = {
    {"mmap", NULL, js_mmap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unmap", NULL, js_unmap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"verifyLog", NULL, js_verify_log, NULL, NULL, NULL, napi_enumerable, NULL},
    {"crc32", NULL, js_crc32, NULL, NULL, NULL, napi_enumerable, NULL},
    {"populate", NULL, js_populate, NULL, NULL, NULL, napi_enumerable, NULL},
    {"isHole", NULL, js_is_hole, NULL, NULL, NULL, napi_enumerable, NULL},
    {"zero", NULL, js_zero, NULL, NULL, NULL, napi_enumerable, NULL},
    {"flush", NULL, js_flush, NULL, NULL, NULL, napi_enumerable, NULL},
    {"invalidate", NULL, js_invalidate, NULL, NULL, NULL, napi_enumerable, NULL},
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"funlock", NULL, js_funlock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"cacheFlushMethod", NULL, js_cache_flush_method, NULL, NULL, NULL, napi_enumerable, NULL},
    {"probeRead", NULL, js_probe_read, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
