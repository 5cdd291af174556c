/*
 * strata_fuse: a small N-API bridge between libfuse3's high-level API and JavaScript.
 *
 * Threads: fuse_loop_mt runs on native threads (one loop thread started here, plus libfuse's
 * workers). Each request is handed to JS through one napi_threadsafe_function; the native thread
 * then waits on its own condition variable until JS calls reply() or the op's deadline passes, in
 * which case the kernel gets -ETIMEDOUT and a late reply is dropped. So one slow op never blocks the
 * others (each waits on its own thread) and the mount never hangs, even if JS stops answering.
 *
 * Memory safety of late replies: a request is reference counted (the FUSE thread + the JS side).
 * Everything that touches the FUSE thread's buffers (read buffer, stat, path strings) happens under
 * the request's mutex while `abandoned` is false, which means the FUSE thread is still waiting.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "native_open.h"

enum {
  OP_GETATTR,
  OP_READDIR,
  OP_OPEN,
  OP_CREATE,
  OP_READ,
  OP_WRITE,
  OP_FLUSH,
  OP_RELEASE,
  OP_FSYNC,
  OP_TRUNCATE,
  OP_MKDIR,
  OP_RMDIR,
  OP_UNLINK,
  OP_RENAME,
  OP_STATFS,
  OP_GETXATTR,
  OP_LISTXATTR,
  OP_UTIMENS,
  OP_COUNT,
  OP_EXIT = 99
};

typedef struct req {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int refs;
  int done;
  int abandoned;
  int replied;
  int op;
  int result;
  /* inputs (owned by the FUSE thread; valid while it waits) */
  const char *path;
  const char *path2;
  uint64_t fh;
  int64_t offset;
  size_t size;
  int flags;
  unsigned mode;
  const char *wbuf; /* write data */
  char *buf;        /* read / getxattr / listxattr destination */
  struct stat *st;  /* getattr destination */
  struct statvfs *sv;
  struct fuse_file_info *fi;
  /* readdir output (owned by the request until a dir handle takes it) */
  int more;
  char *names;
  size_t names_len;
  double *attrs;
  size_t attrs_len;
} req_t;

static struct {
  struct fuse *fuse;
  napi_threadsafe_function tsfn;
  pthread_t thread;
  pthread_mutex_t fuse_mu; /* guards G.fuse between exit() and the loop thread's teardown */
  int running;
  double timeouts_ms[OP_COUNT];
  double attr_timeout, entry_timeout, negative_timeout;
  int max_threads;
  uid_t uid;
  gid_t gid;
} G = {.fuse_mu = PTHREAD_MUTEX_INITIALIZER};

static void req_unref(req_t *r) {
  pthread_mutex_lock(&r->mu);
  int left = --r->refs;
  pthread_mutex_unlock(&r->mu);
  if (left == 0) {
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->names);
    free(r->attrs);
    free(r);
  }
}

static req_t *req_new(int op, const char *path) {
  req_t *r = calloc(1, sizeof(req_t));
  if (!r) return NULL;
  pthread_mutex_init(&r->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cv, &ca);
  pthread_condattr_destroy(&ca);
  r->refs = 2; /* FUSE thread + JS side */
  r->op = op;
  r->path = path;
  return r;
}

/* Hands the request to JS and waits for the reply or the deadline. Returns the result (>= 0 or -errno). */
static int dispatch(req_t *r) {
  if (napi_call_threadsafe_function(G.tsfn, r, napi_tsfn_blocking) != napi_ok) {
    /* JS is gone or closing: the kernel gets an error, never a hang. */
    r->refs = 1;
    return -EIO;
  }
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  double ms = G.timeouts_ms[r->op];
  deadline.tv_sec += (time_t)(ms / 1000);
  deadline.tv_nsec += (long)((ms - (double)(long)(ms / 1000) * 1000) * 1e6);
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&r->mu);
  while (!r->done) {
    if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) == ETIMEDOUT && !r->done) {
      r->abandoned = 1;
      r->result = -ETIMEDOUT;
      break;
    }
  }
  int result = r->result;
  pthread_mutex_unlock(&r->mu);
  return result;
}

/* Hands a request to JS without waiting (release of a handle: the kernel needs no answer from JS).
 * Carries no path: libfuse frees its strings when the op returns. */
static void dispatch_async(req_t *r) {
  r->refs = 1; /* the JS side only */
  r->path = NULL;
  if (napi_call_threadsafe_function(G.tsfn, r, napi_tsfn_nonblocking) != napi_ok) req_unref(r);
}

static void fill_stat(struct stat *st, const double *a) {
  memset(st, 0, sizeof(*st));
  st->st_mode = (mode_t)a[0];
  st->st_size = (off_t)a[1];
  double ms = a[2];
  st->st_mtim.tv_sec = (time_t)(ms / 1000);
  st->st_mtim.tv_nsec = (long)((ms - (double)st->st_mtim.tv_sec * 1000) * 1e6);
  st->st_atim = st->st_mtim;
  st->st_ctim = st->st_mtim;
  st->st_nlink = (nlink_t)a[3];
  st->st_uid = G.uid;
  st->st_gid = G.gid;
  st->st_blksize = 1 << 20;
  st->st_blocks = (blkcnt_t)((st->st_size + 511) / 512);
}

/* ---- FUSE operations: fill a request, dispatch, copy results ---- */

static int simple(int op, const char *path, const char *path2, struct fuse_file_info *fi, int64_t offset,
                  int flags, unsigned mode) {
  req_t *r = req_new(op, path);
  if (!r) return -ENOMEM;
  r->path2 = path2;
  r->fi = fi;
  r->fh = fi ? fi->fh : 0;
  r->offset = offset;
  r->flags = flags;
  r->mode = mode;
  int res = dispatch(r);
  req_unref(r);
  return res;
}

static void *sf_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  cfg->attr_timeout = G.attr_timeout;
  cfg->entry_timeout = G.entry_timeout;
  cfg->negative_timeout = G.negative_timeout;
  cfg->hard_remove = 1;
  cfg->use_ino = 0;
  cfg->nullpath_ok = 0;
  /* No auto_cache: JS decides keep_cache on every open from the file's version (fingerprint, size,
     mtime), which also catches a same-size overwrite that auto_cache's size/mtime check misses. */
  cfg->auto_cache = 0;
  return NULL;
}

static int sf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  req_t *r = req_new(OP_GETATTR, path);
  if (!r) return -ENOMEM;
  r->st = st;
  r->fh = fi ? fi->fh : 0;
  r->flags = fi ? 1 : 0;
  int res = dispatch(r);
  req_unref(r);
  return res;
}

/* An open directory: the last page JS answered, so the kernel's small READDIR requests (a few KiB
   each) are served from it and JS is asked once per page, never for the whole directory.
   Positions: 0 ".", 1 "..", 2 + k the k-th child; an entry's offset is the position after it. */
typedef struct {
  char *names;
  size_t names_len;
  const char **name_at; /* count pointers into names */
  double *attrs;
  size_t count;
  int64_t base; /* child index of the page's first entry */
  int more;     /* children follow the page */
} dirh_t;

static void dirh_clear(dirh_t *h) {
  free(h->names);
  free(h->attrs);
  free(h->name_at);
  h->names = NULL;
  h->attrs = NULL;
  h->name_at = NULL;
  h->count = 0;
  h->names_len = 0;
}

static int sf_opendir(const char *path, struct fuse_file_info *fi) {
  dirh_t *h = calloc(1, sizeof(dirh_t));
  if (!h) return -ENOMEM;
  fi->fh = (uint64_t)(uintptr_t)h;
  return 0;
}

static int sf_releasedir(const char *path, struct fuse_file_info *fi) {
  dirh_t *h = (dirh_t *)(uintptr_t)fi->fh;
  if (h) {
    dirh_clear(h);
    free(h);
  }
  return 0;
}

/* Asks JS for the page of children starting at child index k: after `after` (the previous page's
   last name) when given, else by skipping k children from the first. Takes over the reply's buffers. */
static int fetch_page(const char *path, dirh_t *h, int64_t k, const char *after) {
  req_t *r = req_new(OP_READDIR, path);
  if (!r) return -ENOMEM;
  r->path2 = after;
  r->offset = k;
  int res = dispatch(r);
  if (res >= 0) {
    /* Copy out before the old page (which `after` points into) is freed. */
    size_t n = 0;
    for (size_t pos = 0; pos < r->names_len && (n + 1) * 4 <= r->attrs_len; n++)
      pos += strnlen(r->names + pos, r->names_len - pos) + 1;
    const char **at = calloc(n ? n : 1, sizeof(char *));
    if (!at) {
      req_unref(r);
      return -ENOMEM;
    }
    dirh_clear(h);
    h->names = r->names;
    h->names_len = r->names_len;
    h->attrs = r->attrs;
    r->names = NULL;
    r->attrs = NULL;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
      at[i] = h->names + pos;
      pos += strnlen(h->names + pos, h->names_len - pos) + 1;
    }
    h->name_at = at;
    h->count = n;
    h->base = k;
    h->more = r->more;
    res = 0;
  }
  req_unref(r);
  return res;
}

static int sf_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
  dirh_t *h = fi ? (dirh_t *)(uintptr_t)fi->fh : NULL;
  if (!h) return -EBADF;
  enum fuse_fill_dir_flags plus = (flags & FUSE_READDIR_PLUS) ? FUSE_FILL_DIR_PLUS : 0;
  int64_t pos = off < 0 ? 0 : (int64_t)off;
  if (pos == 0) {
    if (filler(buf, ".", NULL, 1, 0) != 0) return 0;
    pos = 1;
  }
  if (pos == 1) {
    if (filler(buf, "..", NULL, 2, 0) != 0) return 0;
    pos = 2;
  }
  struct stat st;
  for (;;) {
    int64_t k = pos - 2;
    if (h->names && k >= h->base && k < h->base + (int64_t)h->count) {
      size_t i = (size_t)(k - h->base);
      fill_stat(&st, h->attrs + i * 4);
      if (filler(buf, h->name_at[i], &st, pos + 1, plus) != 0) return 0;
      pos++;
      continue;
    }
    int next = h->names && k == h->base + (int64_t)h->count;
    if (next && !h->more) return 0; /* the end */
    const char *after = next && h->count > 0 ? h->name_at[h->count - 1] : NULL;
    int res = fetch_page(path, h, k, after);
    if (res < 0) return res;
    if (h->count == 0) return 0;
  }
}

static int open_like(int op, const char *path, unsigned mode, struct fuse_file_info *fi) {
  req_t *r = req_new(op, path);
  if (!r) return -ENOMEM;
  r->fi = fi;
  r->flags = fi->flags;
  r->mode = mode;
  int res = dispatch(r);
  req_unref(r);
  return res < 0 ? res : 0;
}

static int sf_open(const char *path, struct fuse_file_info *fi) {
  if ((fi->flags & O_ACCMODE) == O_RDONLY && !(fi->flags & O_TRUNC) && grant_valid(path)) {
    fi->fh = native_fh_next();
    fi->keep_cache = 1;
    fi->noflush = 1;
    return 0;
  }
  return open_like(OP_OPEN, path, 0, fi);
}

static int sf_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  return open_like(OP_CREATE, path, mode, fi);
}

static int sf_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  if (fi->fh & NATIVE_FH) read_fh_add(fi->fh);
  req_t *r = req_new(OP_READ, path);
  if (!r) return -ENOMEM;
  r->fh = fi->fh;
  r->offset = off;
  r->size = size;
  r->buf = buf;
  int res = dispatch(r);
  req_unref(r);
  return res;
}

static int sf_write(const char *path, const char *data, size_t size, off_t off, struct fuse_file_info *fi) {
  req_t *r = req_new(OP_WRITE, path);
  if (!r) return -ENOMEM;
  r->fh = fi->fh;
  r->offset = off;
  r->size = size;
  r->wbuf = data;
  r->flags = fi->flags;
  int res = dispatch(r);
  req_unref(r);
  return res;
}

static int sf_flush(const char *path, struct fuse_file_info *fi) { return simple(OP_FLUSH, path, NULL, fi, 0, 0, 0); }
static int sf_release(const char *path, struct fuse_file_info *fi) {
  if (fi->fh & NATIVE_FH) {
    /* JS only knows a native handle it read through; nothing to commit, so it need not be awaited. */
    if (read_fh_take(fi->fh)) {
      req_t *r = req_new(OP_RELEASE, NULL);
      if (r) {
        r->fh = fi->fh;
        dispatch_async(r);
      }
    }
    return 0;
  }
  return simple(OP_RELEASE, path, NULL, fi, 0, 0, 0);
}
static int sf_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  return simple(OP_FSYNC, path, NULL, fi, 0, datasync, 0);
}
static int sf_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  /* flags 1: fi->fh names the open file (ftruncate). */
  return simple(OP_TRUNCATE, path, NULL, fi, size, fi ? 1 : 0, 0);
}
static int sf_mkdir(const char *path, mode_t mode) { return simple(OP_MKDIR, path, NULL, NULL, 0, 0, mode); }
static int sf_rmdir(const char *path) { return simple(OP_RMDIR, path, NULL, NULL, 0, 0, 0); }
static int sf_unlink(const char *path) { return simple(OP_UNLINK, path, NULL, NULL, 0, 0, 0); }
static int sf_rename(const char *from, const char *to, unsigned int flags) {
  return simple(OP_RENAME, from, to, NULL, 0, (int)flags, 0);
}
static int sf_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  return simple(OP_UTIMENS, path, NULL, fi, 0, 0, 0);
}

static int sf_statfs(const char *path, struct statvfs *sv) {
  req_t *r = req_new(OP_STATFS, path);
  if (!r) return -ENOMEM;
  r->sv = sv;
  int res = dispatch(r);
  req_unref(r);
  return res < 0 ? res : 0;
}

static int sf_getxattr(const char *path, const char *name, char *value, size_t size) {
  req_t *r = req_new(OP_GETXATTR, path);
  if (!r) return -ENOMEM;
  r->path2 = name;
  r->buf = value;
  r->size = size;
  int res = dispatch(r);
  req_unref(r);
  return res;
}

static int sf_listxattr(const char *path, char *list, size_t size) {
  req_t *r = req_new(OP_LISTXATTR, path);
  if (!r) return -ENOMEM;
  r->buf = list;
  r->size = size;
  int res = dispatch(r);
  req_unref(r);
  return res;
}

/* Stated clearly rather than left to ENOSYS: Strata stores no links, owners, modes or custom xattrs. */
static int sf_unsupported_link(const char *a, const char *b) { return -ENOTSUP; }
static int sf_chmod(const char *p, mode_t m, struct fuse_file_info *fi) { return -ENOTSUP; }
static int sf_chown(const char *p, uid_t u, gid_t g, struct fuse_file_info *fi) { return -ENOTSUP; }
static int sf_mknod(const char *p, mode_t m, dev_t d) { return -ENOTSUP; }
static int sf_setxattr(const char *p, const char *n, const char *v, size_t s, int f) { return -ENOTSUP; }
static int sf_removexattr(const char *p, const char *n) { return -ENOTSUP; }

static const struct fuse_operations OPS = {
    .init = sf_init,
    .getattr = sf_getattr,
    .opendir = sf_opendir,
    .readdir = sf_readdir,
    .releasedir = sf_releasedir,
    .open = sf_open,
    .create = sf_create,
    .read = sf_read,
    .write = sf_write,
    .flush = sf_flush,
    .release = sf_release,
    .fsync = sf_fsync,
    .truncate = sf_truncate,
    .mkdir = sf_mkdir,
    .rmdir = sf_rmdir,
    .unlink = sf_unlink,
    .rename = sf_rename,
    .utimens = sf_utimens,
    .statfs = sf_statfs,
    .getxattr = sf_getxattr,
    .listxattr = sf_listxattr,
    .symlink = sf_unsupported_link,
    .link = sf_unsupported_link,
    .chmod = sf_chmod,
    .chown = sf_chown,
    .mknod = sf_mknod,
    .setxattr = sf_setxattr,
    .removexattr = sf_removexattr,
};

/* ---- JS side ---- */

#define CHECK(call)                                                                                       \
  do {                                                                                                    \
    if ((call) != napi_ok) {                                                                              \
      napi_throw_error(env, NULL, "strata_fuse: " #call " failed");                                       \
      return NULL;                                                                                        \
    }                                                                                                     \
  } while (0)

static napi_value str_or_null(napi_env env, const char *s) {
  napi_value v;
  if (s)
    napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  else
    napi_get_null(env, &v);
  return v;
}

/* Runs on the JS thread: handler(op, token, path, path2, fh, offset, size, flags, mode, data). */
static void call_js(napi_env env, napi_value handler, void *context, void *data) {
  req_t *r = data;
  if (env == NULL) { /* tsfn finalizing: nothing will answer */
    if (r->op == OP_EXIT) free(r);
    else req_unref(r);
    return;
  }
  napi_value undef, argv[10];
  napi_get_undefined(env, &undef);
  if (r->op == OP_EXIT) {
    /* The loop thread only releases the tsfn after posting this: wait for it to be gone, so the
     * process can never exit (and tear N-API down) under a thread still inside N-API. */
    pthread_join(G.thread, NULL);
    napi_create_int32(env, OP_EXIT, &argv[0]);
    napi_create_int32(env, r->result, &argv[1]);
    napi_call_function(env, undef, handler, 2, argv, NULL);
    free(r);
    return;
  }
  pthread_mutex_lock(&r->mu);
  if (r->abandoned) {
    pthread_mutex_unlock(&r->mu);
    req_unref(r);
    return;
  }
  napi_create_int32(env, r->op, &argv[0]);
  napi_create_external(env, r, NULL, NULL, &argv[1]);
  argv[2] = str_or_null(env, r->path);
  argv[3] = str_or_null(env, r->path2);
  napi_create_double(env, (double)r->fh, &argv[4]);
  napi_create_double(env, (double)r->offset, &argv[5]);
  napi_create_double(env, (double)r->size, &argv[6]);
  napi_create_int32(env, r->flags, &argv[7]);
  napi_create_uint32(env, r->mode, &argv[8]);
  if (r->op == OP_WRITE) {
    void *copy;
    napi_create_buffer_copy(env, r->size, r->wbuf, &copy, &argv[9]);
  } else {
    napi_get_null(env, &argv[9]);
  }
  pthread_mutex_unlock(&r->mu);
  napi_call_function(env, undef, handler, 10, argv, NULL);
}

static int get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) == napi_ok && is) return napi_get_buffer_info(env, v, data, len) == napi_ok;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type t;
    size_t n, off;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &t, &n, data, &ab, &off) != napi_ok) return 0;
    *len = t == napi_float64_array ? n * 8 : n;
    return 1;
  }
  return 0;
}

/* reply(token, result, a?, b?): completes a request. Late or repeated replies are ignored. */
static napi_value js_reply(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  req_t *r;
  CHECK(napi_get_value_external(env, argv[0], (void **)&r));
  double result;
  CHECK(napi_get_value_double(env, argv[1], &result));
  void *a = NULL, *b = NULL;
  size_t alen = 0, blen = 0;
  if (argc > 2) get_bytes(env, argv[2], &a, &alen);
  if (argc > 3) get_bytes(env, argv[3], &b, &blen);

  pthread_mutex_lock(&r->mu);
  if (r->replied) {
    pthread_mutex_unlock(&r->mu);
    return NULL;
  }
  r->replied = 1;
  if (!r->abandoned) {
    int res = result < 0 ? (int)result : 0;
    if (res == 0) {
      switch (r->op) {
      case OP_GETATTR:
        if (alen >= 32) fill_stat(r->st, a);
        else res = -EIO;
        break;
      case OP_READDIR:
        r->names = malloc(alen + 1);
        r->attrs = malloc(blen + 8);
        if (!r->names || !r->attrs) {
          res = -ENOMEM;
          break;
        }
        if (alen) memcpy(r->names, a, alen);
        if (blen) memcpy(r->attrs, b, blen);
        r->names_len = alen;
        r->attrs_len = blen / 8;
        r->more = result > 0; /* 1: children follow this page */
        break;
      case OP_OPEN:
      case OP_CREATE:
        r->fi->fh = (uint64_t)result;
        if (a && alen >= 8) {
          int fl = (int)((double *)a)[0];
          r->fi->keep_cache = (fl & 1) ? 1 : 0;
          r->fi->direct_io = (fl & 2) ? 1 : 0;
          /* 4: nothing to flush (a read-only handle), so close() needs no FLUSH round trip. */
          r->fi->noflush = (fl & 4) ? 1 : 0;
        }
        break;
      case OP_READ: {
        size_t n = alen < r->size ? alen : r->size;
        if (n) memcpy(r->buf, a, n);
        res = (int)n;
        break;
      }
      case OP_WRITE:
        res = (int)result;
        break;
      case OP_STATFS:
        if (alen >= 8 * 8) {
          double *s = a;
          memset(r->sv, 0, sizeof(*r->sv));
          r->sv->f_bsize = (unsigned long)s[0];
          r->sv->f_frsize = (unsigned long)s[1];
          r->sv->f_blocks = (fsblkcnt_t)s[2];
          r->sv->f_bfree = (fsblkcnt_t)s[3];
          r->sv->f_bavail = (fsblkcnt_t)s[4];
          r->sv->f_files = (fsfilcnt_t)s[5];
          r->sv->f_ffree = (fsfilcnt_t)s[6];
          r->sv->f_namemax = (unsigned long)s[7];
        } else res = -EIO;
        break;
      case OP_GETXATTR:
      case OP_LISTXATTR:
        if (r->size == 0) res = (int)alen;
        else if (alen > r->size) res = -ERANGE;
        else {
          if (alen) memcpy(r->buf, a, alen);
          res = (int)alen;
        }
        break;
      default:
        res = 0;
      }
    }
    r->result = res;
    r->done = 1;
    pthread_cond_signal(&r->cv);
  }
  pthread_mutex_unlock(&r->mu);
  req_unref(r);
  return NULL;
}

static void *loop_main(void *arg) {
  struct fuse_loop_config *cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, (unsigned)G.max_threads);
  fuse_loop_cfg_set_idle_threads(cfg, 8);
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  int rc = fuse_loop_mt(G.fuse, cfg);
  fuse_loop_cfg_destroy(cfg);
  /* Under the lock: exit() on the JS thread must never see a destroyed session. */
  pthread_mutex_lock(&G.fuse_mu);
  struct fuse *f = G.fuse;
  G.fuse = NULL;
  pthread_mutex_unlock(&G.fuse_mu);
  fuse_unmount(f);
  fuse_destroy(f);
  req_t *r = calloc(1, sizeof(req_t));
  if (r) {
    r->op = OP_EXIT;
    r->result = rc;
    if (napi_call_threadsafe_function(G.tsfn, r, napi_tsfn_blocking) != napi_ok) free(r);
  }
  napi_release_threadsafe_function(G.tsfn, napi_tsfn_release);
  return NULL;
}

static char *get_string(napi_env env, napi_value v) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) return NULL;
  char *s = malloc(n + 1);
  if (s) napi_get_value_string_utf8(env, v, s, n + 1, &n);
  return s;
}

/*
 * mount(mountpoint, args[], timeoutsMs[], [attr, entry, negative] seconds, maxThreads, handler)
 * Mounts and starts the loop thread. Throws on failure. One mount per process.
 */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "mount(mountpoint, args, timeouts, kernelTimeouts, maxThreads, handler)");
    return NULL;
  }
  if (G.running) {
    napi_throw_error(env, "EBUSY", "strata_fuse: this process already serves a mount");
    return NULL;
  }
  char *mountpoint = get_string(env, argv[0]);
  uint32_t nargs;
  CHECK(napi_get_array_length(env, argv[1], &nargs));
  char **fargv = calloc(nargs + 1, sizeof(char *));
  for (uint32_t i = 0; i < nargs; i++) {
    napi_value s;
    napi_get_element(env, argv[1], i, &s);
    fargv[i] = get_string(env, s);
  }
  for (int i = 0; i < OP_COUNT; i++) {
    napi_value v;
    double d = 30000;
    if (napi_get_element(env, argv[2], (uint32_t)i, &v) == napi_ok) napi_get_value_double(env, v, &d);
    G.timeouts_ms[i] = d > 0 ? d : 30000;
  }
  double kt[3] = {1, 1, 1};
  for (uint32_t i = 0; i < 3; i++) {
    napi_value v;
    if (napi_get_element(env, argv[3], i, &v) == napi_ok) napi_get_value_double(env, v, &kt[i]);
  }
  G.attr_timeout = kt[0];
  G.entry_timeout = kt[1];
  G.negative_timeout = kt[2];
  int32_t mt = 64;
  napi_get_value_int32(env, argv[4], &mt);
  G.max_threads = mt > 0 ? mt : 64;
  G.uid = getuid();
  G.gid = getgid();

  struct fuse_args args = FUSE_ARGS_INIT((int)nargs, fargv);
  struct fuse *f = fuse_new(&args, &OPS, sizeof(OPS), NULL);
  if (!f) {
    fuse_opt_free_args(&args);
    for (uint32_t i = 0; i < nargs; i++) free(fargv[i]);
    free(fargv);
    free(mountpoint);
    napi_throw_error(env, "EINVAL", "strata_fuse: fuse_new failed (bad -o option? see stderr)");
    return NULL;
  }
  int mrc = fuse_mount(f, mountpoint);
  fuse_opt_free_args(&args);
  for (uint32_t i = 0; i < nargs; i++) free(fargv[i]);
  free(fargv);
  free(mountpoint);
  if (mrc != 0) {
    fuse_destroy(f);
    napi_throw_error(env, "EIO", "strata_fuse: fuse_mount failed (see stderr)");
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "strata-fuse", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[5], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &G.tsfn) !=
      napi_ok) {
    fuse_unmount(f);
    fuse_destroy(f);
    napi_throw_error(env, NULL, "strata_fuse: napi_create_threadsafe_function failed");
    return NULL;
  }
  G.fuse = f;
  if (pthread_create(&G.thread, NULL, loop_main, NULL) != 0) {
    G.fuse = NULL;
    fuse_unmount(f);
    fuse_destroy(f);
    napi_release_threadsafe_function(G.tsfn, napi_tsfn_abort);
    napi_throw_error(env, NULL, "strata_fuse: pthread_create failed");
    return NULL;
  }
  G.running = 1;
  return NULL;
}

/* exit(): asks the loop to stop; the caller unmounts (fusermount3 -u) to wake the blocked readers. */
static napi_value js_exit(napi_env env, napi_callback_info info) {
  pthread_mutex_lock(&G.fuse_mu);
  if (G.fuse) fuse_exit(G.fuse);
  pthread_mutex_unlock(&G.fuse_mu);
  return NULL;
}

/* grant(path, ms): read-only opens of `path` are answered natively for `ms` (see Native opens). */
static napi_value js_grant(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double ms = 0;
  if (argc < 2 || napi_get_value_double(env, argv[1], &ms) != napi_ok || ms <= 0) return NULL;
  char *path = get_string(env, argv[0]);
  if (path) grant_set(path, now_ms() + (uint64_t)ms);
  free(path);
  return NULL;
}

/* forget(path): ends the grants of `path` and its tree. */
static napi_value js_forget(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return NULL;
  char *path = get_string(env, argv[0]);
  if (path) grant_forget(path);
  free(path);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
      {"reply", NULL, js_reply, NULL, NULL, NULL, napi_default, NULL},
      {"exit", NULL, js_exit, NULL, NULL, NULL, napi_default, NULL},
      {"grant", NULL, js_grant, NULL, NULL, NULL, napi_default, NULL},
      {"forget", NULL, js_forget, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
