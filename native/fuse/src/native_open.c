/*
 * Native opens. After a read-only open JS grants the path for as long as its own status of the file
 * stays fresh (grant(path, ms)); until then a plain read-only open of that path is answered by the
 * addon, with keep_cache (the kernel's pages are of the version JS saw) and noflush, and no round
 * trip to JS. Such a handle carries NATIVE_FH; JS makes its read handle only if the kernel asks for
 * data (reads name the path), and hears of the release only then. forget(path) ends grants of a
 * path and its tree (a change through the mount, a file opened for writing). Thread-safe: FUSE
 * threads and the JS thread call in concurrently, all under one mutex.
 */
#include "native_open.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

#define GRANT_BUCKETS 4096
#define GRANT_MAX 65536
typedef struct grant {
  struct grant *next;
  uint64_t until;
  char path[];
} grant_t;
static struct {
  pthread_mutex_t mu;
  grant_t *b[GRANT_BUCKETS];
  size_t count;
  atomic_uint_fast64_t next_fh;
  uint64_t *read_fhs; /* native handles JS made a read handle for (small, unordered) */
  size_t read_len, read_cap;
} NV = {.mu = PTHREAD_MUTEX_INITIALIZER};

static size_t grant_hash(const char *p) {
  size_t h = 5381;
  for (; *p; p++) h = h * 33 + (unsigned char)*p;
  return h % GRANT_BUCKETS;
}

static void grants_clear_locked(void) {
  for (size_t i = 0; i < GRANT_BUCKETS; i++) {
    for (grant_t *g = NV.b[i], *n; g; g = n) {
      n = g->next;
      free(g);
    }
    NV.b[i] = NULL;
  }
  NV.count = 0;
}

int grant_valid(const char *path) {
  int ok = 0;
  uint64_t now = now_ms();
  pthread_mutex_lock(&NV.mu);
  for (grant_t **pp = &NV.b[grant_hash(path)]; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->path, path) != 0) continue;
    if ((*pp)->until > now) ok = 1;
    else {
      grant_t *g = *pp;
      *pp = g->next;
      free(g);
      NV.count--;
    }
    break;
  }
  pthread_mutex_unlock(&NV.mu);
  return ok;
}

void grant_set(const char *path, uint64_t until) {
  size_t n = strlen(path);
  pthread_mutex_lock(&NV.mu);
  grant_t **head = &NV.b[grant_hash(path)];
  for (grant_t *g = *head; g; g = g->next) {
    if (strcmp(g->path, path) == 0) {
      g->until = until;
      pthread_mutex_unlock(&NV.mu);
      return;
    }
  }
  if (NV.count >= GRANT_MAX) grants_clear_locked();
  head = &NV.b[grant_hash(path)];
  grant_t *g = malloc(sizeof(grant_t) + n + 1);
  if (g) {
    memcpy(g->path, path, n + 1);
    g->until = until;
    g->next = *head;
    *head = g;
    NV.count++;
  }
  pthread_mutex_unlock(&NV.mu);
}

/* Ends the grants of `path` and everything below it. */
void grant_forget(const char *path) {
  size_t n = strlen(path);
  pthread_mutex_lock(&NV.mu);
  for (size_t i = 0; i < GRANT_BUCKETS; i++) {
    for (grant_t **pp = &NV.b[i]; *pp;) {
      const char *q = (*pp)->path;
      int hit = strncmp(q, path, n) == 0 && (q[n] == '\0' || q[n] == '/' || (n == 1 && path[0] == '/'));
      if (hit) {
        grant_t *g = *pp;
        *pp = g->next;
        free(g);
        NV.count--;
      } else {
        pp = &(*pp)->next;
      }
    }
  }
  pthread_mutex_unlock(&NV.mu);
}

/* Remembers that JS was asked to read through a native fh (so it holds a read handle to release). */
void read_fh_add(uint64_t fh) {
  pthread_mutex_lock(&NV.mu);
  int seen = 0;
  for (size_t i = 0; i < NV.read_len; i++) seen |= NV.read_fhs[i] == fh;
  if (!seen) {
    if (NV.read_len == NV.read_cap) {
      size_t cap = NV.read_cap ? NV.read_cap * 2 : 64;
      uint64_t *m = realloc(NV.read_fhs, cap * sizeof(uint64_t));
      if (m) {
        NV.read_fhs = m;
        NV.read_cap = cap;
      }
    }
    if (NV.read_len < NV.read_cap) NV.read_fhs[NV.read_len++] = fh;
  }
  pthread_mutex_unlock(&NV.mu);
}

int read_fh_take(uint64_t fh) {
  int found = 0;
  pthread_mutex_lock(&NV.mu);
  for (size_t i = 0; i < NV.read_len; i++) {
    if (NV.read_fhs[i] == fh) {
      NV.read_fhs[i] = NV.read_fhs[--NV.read_len];
      found = 1;
      break;
    }
  }
  pthread_mutex_unlock(&NV.mu);
  return found;
}

uint64_t native_fh_next(void) { return NATIVE_FH | (uint64_t)atomic_fetch_add(&NV.next_fh, 1); }
