/*
 * What the two halves of the addon share: strata_fuse.c (requests, the JS side, mount) and
 * fuse_ops.c (the FUSE operations, which fill requests and dispatch them to JS).
 */
#ifndef STRATA_BRIDGE_H
#define STRATA_BRIDGE_H
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

typedef struct strata_globals {
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
} strata_globals_t;

extern strata_globals_t G;
extern const struct fuse_operations STRATA_OPS;

void req_unref(req_t *r);
req_t *req_new(int op, const char *path);
/* Hands the request to JS and waits for the reply or the deadline. Returns the result (>= 0 or -errno). */
int dispatch(req_t *r);
/* Hands a request to JS without waiting; carries no path. */
void dispatch_async(req_t *r);
void fill_stat(struct stat *st, const double *a);
#endif
