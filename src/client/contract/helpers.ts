import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pathToFileURL } from 'node:url';
import { type ErrorCode, isStrataError } from '../../core/errors.js';
import type { FileInfo, ReadOptions, StrataFileSystem } from '../../core/file-system.js';
import type { FsCaseContext, FsContractContext } from './types.js';

// ---- helpers -----------------------------------------------------------------------------------

/** A stream of `data` in chunks (several chunks: implementations must not assume one). */
export function source(data: Buffer | string, chunk = 64 * 1024): Readable {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) chunks.push(buf.subarray(i, i + chunk));
  return Readable.from(chunks, { objectMode: false });
}

export async function readAll(
  fs: StrataFileSystem,
  path: string,
  options: ReadOptions = {},
): Promise<Buffer> {
  return buffer(await fs.read(path, options));
}

/**
 * Expects `fn` to reject with `code`. A Readable it resolves with is drained (errors may surface
 * there). A synchronous throw is a failure of its own: these methods return promises.
 */
export async function expectCode(code: ErrorCode, what: string, fn: () => Promise<unknown>): Promise<void> {
  let pending: Promise<unknown>;
  try {
    pending = fn();
  } catch (err) {
    assert.fail(`${what}: threw synchronously (${describeError(err)}) instead of rejecting`);
  }
  try {
    const value = await pending;
    if (value instanceof Readable) await buffer(value);
  } catch (err) {
    assert.ok(isStrataError(err, code), `${what}: expected ${code}, got ${describeError(err)}`);
    return;
  }
  assert.fail(`${what}: expected ${code}, but it succeeded`);
}

export function describeError(err: unknown): string {
  if (isStrataError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

export async function exists(fs: StrataFileSystem, path: string): Promise<boolean> {
  try {
    await fs.status(path);
    return true;
  } catch (err) {
    if (isStrataError(err, 'NOT_FOUND')) return false;
    throw err;
  }
}

/** Polls `fn` until it returns true; for state that settles in the background (persisting). */
export async function eventually(
  what: string,
  fn: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function aborted(): AbortSignal {
  return AbortSignal.abort();
}

export function names(list: readonly FileInfo[]): string[] {
  return list.map((e) => e.name);
}

export function fileUri(dir: string): string {
  return pathToFileURL(dir).href;
}

export async function settle(ctx: FsContractContext): Promise<void> {
  await ctx.target.settle?.();
}

export async function mountedPaths(fs: StrataFileSystem): Promise<string[]> {
  return (await fs.mounts()).map((m) => m.path);
}

/** A fresh store directory for a case that mounts its own store. */
export async function freshStore(ctx: FsCaseContext, name: string): Promise<string> {
  const dir = join(ctx.target.scratchDir, `${ctx.prefix.slice(1)}-stores`, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** A tiny HTTP server that answers every request 200 with an empty JSON listing. */
export async function withHttpRoot<T>(fn: (base: string) => Promise<T>): Promise<T> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
    res.end('[]');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    return await fn(`127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

export const MIB = 1024 * 1024;
