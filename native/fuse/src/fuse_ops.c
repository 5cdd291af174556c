/*
 * The FUSE operations (libfuse3 high-level API): each fills a request, dispatches it to JS (see
 * strata_fuse.c) and copies the answer out; open-directory pages and native opens are answered here.
 */
#include "bridge.h"
#include "native_open.h"

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

const struct fuse_operations STRATA_OPS = {
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

