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
#include "bridge.h"
#include "native_open.h"

strata_globals_t G = {.fuse_mu = PTHREAD_MUTEX_INITIALIZER};

void req_unref(req_t *r) {
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

req_t *req_new(int op, const char *path) {
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
int dispatch(req_t *r) {
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
void dispatch_async(req_t *r) {
  r->refs = 1; /* the JS side only */
  r->path = NULL;
  if (napi_call_threadsafe_function(G.tsfn, r, napi_tsfn_nonblocking) != napi_ok) req_unref(r);
}

void fill_stat(struct stat *st, const double *a) {
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
  struct fuse *f = fuse_new(&args, &STRATA_OPS, sizeof(STRATA_OPS), NULL);
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
