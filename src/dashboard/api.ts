import type { IncomingMessage, ServerResponse } from 'node:http';
import { StrataError } from '../core/errors.js';
import type { FileInfo } from '../core/file-system.js';
import type { JobInfo } from '../core/jobs.js';
import { readJsonObject } from '../core/json-body.js';
import { normalizePath } from '../core/paths.js';
import type { HistorySample } from './history.js';
import type { NodeView } from './node-view.js';
import type { DashboardFileSystem, DashboardViews } from './views.js';

/**
 * The dashboard's JSON API under /api/v1/dashboard/ (docs in ARCHITECTURE.md, "Dashboard"):
 * GET overview | workers | mounts | jobs | history | browse?path=&after=&limit= | du?path= |
 * session | node | node/history; POST actions {action, path} and jobs/ID/cancel.
 * Views are open to loopback callers and need the token from anywhere else; every POST needs it.
 */

export const API_PREFIX = '/api/v1/dashboard/';
export const ACTIONS = ['load', 'free', 'pin', 'unpin'] as const;
export type DashboardAction = (typeof ACTIONS)[number];
/** Entries of a directory one browse page carries at most. */
export const MAX_BROWSE_PAGE = 500;
/** How long the Mounts page's cached-bytes count (a tree walk) may take before it gives up. */
export const DU_DEADLINE_MS = 5000;
const MAX_BODY = 4096;

export interface ApiSources {
  readonly views: DashboardViews;
  readonly selfId: string;
  fs(): Promise<DashboardFileSystem>;
  self(): Promise<NodeView>;
  selfHistory(): readonly HistorySample[];
  /** Throws UNAUTHENTICATED unless the request carries the token (a no-op without one). */
  authorize(req: IncomingMessage): void;
  readonly tokenRequired: boolean;
  submitJob(kind: 'load' | 'free', path: string): Promise<JobInfo>;
  cancelJob(id: string): Promise<JobInfo>;
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * Whether a read-only view may answer without the token: a loopback caller that named a loopback
 * host (so a web page whose DNS name was rebound to 127.0.0.1 still needs the token).
 */
export function openView(req: IncomingMessage): boolean {
  const host = req.headers.host ?? '';
  return isLoopback(req.socket.remoteAddress) && /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i.test(host);
}

export async function handleApi(
  s: ApiSources,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const route = url.pathname.slice(API_PREFIX.length);
  if (req.method === 'POST') {
    s.authorize(req);
    if (route === 'actions')
      return send(res, 200, await action(s, await readJsonObject(req, MAX_BODY, 'a dashboard request')));
    const m = /^jobs\/([^/]+)\/cancel$/.exec(route);
    if (m !== null) return send(res, 200, await s.cancelJob(decodeURIComponent(m[1]!)));
    throw new StrataError('NOT_FOUND', `no dashboard route POST ${url.pathname}`);
  }
  if (req.method !== 'GET' && req.method !== 'HEAD')
    throw new StrataError('INVALID_ARGUMENT', `${req.method} is not allowed on ${url.pathname}`);
  if (route === 'session') return send(res, 200, session(s, req));
  // Read-only views: no login on loopback (the admin port binds 127.0.0.1 by default).
  if (!openView(req)) s.authorize(req);
  const q = url.searchParams;
  switch (route) {
    case 'overview':
      return send(res, 200, await s.views.overview());
    case 'workers':
      return send(res, 200, await s.views.workers());
    case 'mounts':
      return send(res, 200, await s.views.mounts());
    case 'jobs':
      return send(res, 200, await s.views.jobs());
    case 'history':
      return send(res, 200, await s.views.history());
    case 'browse':
      return send(res, 200, await browse(s, q));
    case 'du': {
      const fs = await s.fs();
      return send(res, 200, await fs.du(pathParam(q), { signal: AbortSignal.timeout(DU_DEADLINE_MS) }));
    }
    case 'node':
      return send(res, 200, await s.self());
    case 'node/history':
      return send(res, 200, { samples: s.selfHistory() });
    default:
      throw new StrataError('NOT_FOUND', `no dashboard route GET ${url.pathname}`);
  }
}

function session(s: ApiSources, req: IncomingMessage) {
  let authenticated = true;
  try {
    s.authorize(req);
  } catch {
    authenticated = false;
  }
  return { tokenRequired: s.tokenRequired, authenticated, workerId: s.selfId };
}

function pathParam(q: URLSearchParams): string {
  return normalizePath(q.get('path') ?? '/');
}

type Entry = FileInfo & { readonly owners: readonly string[] };

function withOwners(fs: DashboardFileSystem, selfId: string, info: FileInfo): Entry {
  const owners = fs.location === undefined ? [selfId] : fs.location(info.path).map((w) => w.id);
  return { ...info, owners };
}

/** A file's status, or a page of a directory's entries after `after` (entries sorted by path). */
async function browse(s: ApiSources, q: URLSearchParams) {
  const fs = await s.fs();
  const path = pathParam(q);
  const info = withOwners(fs, s.selfId, await fs.status(path));
  if (info.type === 'file') return { path, info, entries: [] };
  const limitText = q.get('limit');
  const limit = limitText === null ? 200 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BROWSE_PAGE)
    throw new StrataError('INVALID_ARGUMENT', `limit must be a whole number from 1 to ${MAX_BROWSE_PAGE}`);
  const after = q.get('after');
  const all = await fs.list(path);
  let start = 0;
  if (after !== null) {
    // Sorted by path: the first entry past `after`.
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (all[mid]!.path <= after) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const page = all.slice(start, start + limit).map((e) => withOwners(fs, s.selfId, e));
  const more = start + limit < all.length;
  return {
    path,
    info,
    entries: page,
    total: all.length,
    ...(more ? { next: page[page.length - 1]!.path } : {}),
  };
}

async function action(s: ApiSources, body: Record<string, unknown>) {
  for (const key of Object.keys(body))
    if (key !== 'action' && key !== 'path')
      throw new StrataError('INVALID_ARGUMENT', `unknown field "${key}"`);
  const name = body.action;
  if (typeof name !== 'string' || !(ACTIONS as readonly string[]).includes(name))
    throw new StrataError('INVALID_ARGUMENT', `"action" must be one of ${ACTIONS.join(', ')}`);
  if (typeof body.path !== 'string')
    throw new StrataError('INVALID_ARGUMENT', '"path" must be a Strata path');
  const path = normalizePath(body.path);
  const fs = await s.fs();
  const before = await fs.status(path);
  const act = name as DashboardAction;
  let job: JobInfo | undefined;
  let summary: { files: number; bytes: number } | undefined;
  if (act === 'pin' || act === 'unpin') await fs.pin(path, act === 'pin');
  // A file is done in this request; a tree is a job (progress on the Jobs page, cancellable).
  else if (before.type === 'directory') job = await s.submitJob(act, path);
  else summary = act === 'load' ? await fs.load(path) : await fs.free(path);
  const info = withOwners(fs, s.selfId, await fs.status(path));
  return {
    action: act,
    path,
    info,
    ...(job === undefined ? {} : { job }),
    ...(summary === undefined ? {} : { summary }),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}
