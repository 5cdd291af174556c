/*
 * Native opens (see native_open.c): read-only opens JS granted for a while, answered by the addon.
 */
#ifndef STRATA_NATIVE_OPEN_H
#define STRATA_NATIVE_OPEN_H
#include <stdint.h>

/* File handles of opens the addon answered itself carry this bit (src/fuse/native.ts NATIVE_FH). */
#define NATIVE_FH (1ULL << 40)

uint64_t now_ms(void);
/* 1 if read-only opens of `path` may be answered natively now. */
int grant_valid(const char *path);
/* Grants `path` until `until` (now_ms() clock). */
void grant_set(const char *path, uint64_t until);
/* Ends the grants of `path` and everything below it. */
void grant_forget(const char *path);
/* A fresh handle number for a native open (with NATIVE_FH set). */
uint64_t native_fh_next(void);
/* JS was asked to read through native handle `fh` (so it holds a read handle to release). */
void read_fh_add(uint64_t fh);
/* 1 if JS holds a read handle for `fh` (forgotten here). */
int read_fh_take(uint64_t fh);
#endif
