/*
 * famfs_dax: the few system calls and CPU instructions Node.js cannot reach on its own.
 *   mmap(fd, offset, length, writable) -> ArrayBuffer  MAP_SHARED mapping, unmapped when collected
 *   unmap(arrayBuffer)                             detach it now (later access sees length 0, never freed memory)
 *   flush(view, offset, length)                    write back CPU cache lines (clwb > clflushopt > clflush)
 *   invalidate(view, offset, length)               write back and evict lines, so the next read comes from memory
 *   zero(view, offset, length)                     zero-fill with non-temporal stores: straight to memory, no flush needed
 *   flock(fd, exclusive, wait) -> boolean          advisory lock; wait=false returns false instead of blocking
 *   cacheFlushMethod() -> string                   which instruction flush() uses on this CPU
 * Fabric-attached memory need not be coherent across hosts, which is why famfs flushes after
 * writing metadata and invalidates before reading it.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>

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

static int get_range(napi_env env, napi_value *argv, char **base, size_t *len) {
  napi_typedarray_type type;
  size_t count, byte_offset;
  void *data;
  napi_value ab;
  bool is_typed = false;
  int64_t off, n;
  if (napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[0], &type, &count, &data, &ab, &byte_offset) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "famfs_dax: first argument must be a Buffer or Uint8Array");
    return 0;
  }
  if (!get_int64(env, argv[1], "offset", &off) || !get_int64(env, argv[2], "length", &n)) return 0;
  if (off < 0 || n < 0 || (uint64_t)off + (uint64_t)n > count) {
    napi_throw_range_error(env, NULL, "famfs_dax: range is outside the buffer");
    return 0;
  }
  *base = (char *)data + off;
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
  napi_property_descriptor props[] = {
    {"mmap", NULL, js_mmap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unmap", NULL, js_unmap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"zero", NULL, js_zero, NULL, NULL, NULL, napi_enumerable, NULL},
    {"flush", NULL, js_flush, NULL, NULL, NULL, napi_enumerable, NULL},
    {"invalidate", NULL, js_invalidate, NULL, NULL, NULL, napi_enumerable, NULL},
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"funlock", NULL, js_funlock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"cacheFlushMethod", NULL, js_cache_flush_method, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
