import type { CallOptions, MountInfo } from '../core/file-system.js';
import { hostIdentity } from '../core/host-identity.js';
import type { PageLocation, WatchLine } from '../core/page-location.js';
import { WATCH_HEARTBEAT_MS } from '../core/page-location.js';
import type { Change, ChangeFeed } from '../worker/change-feed.js';
import { bad, jsonBody, pathParam, type Route, sendJson } from './rpc-server.js';

/**
 * The worker routes behind the client's metadata cache and short-circuit reads:
 *
 *   GET /rpc/v1/locate?path=P → PageLocation: the status (as GET status), the mount's sync
 *       interval, and the disk file of each page (core/page-location.ts), stamped with the seq of
 *       the change feed taken before it was computed.
 *   POST /rpc/v1/short-circuit-hits {"hits":[{mount,bytes}]} → 204: bytes a client read from
 *       the page files itself, added to strata_cache_hit_bytes_total{mount} (mounts served only).
 *   GET /rpc/v1/watch → a never-ending NDJSON stream: first {"hello":{seq,host}}, then
 *       {"seq","paths"?,"trees"?} for every batch of changes (one event-loop turn), and {"seq"}
 *       every WATCH_HEARTBEAT_MS when idle. A subscriber that does not keep up (more than
 *       MAX_WATCH_BUFFER bytes unsent) is cut off: its client then forgets what it cached, which is
 *       always correct, where dropping lines would not be.
 */

/** Unsent bytes a watch stream may hold before the subscriber is cut off. */
const MAX_WATCH_BUFFER = 4 * 1024 * 1024;

export interface ShortCircuitParts {
  readonly locatePages: (path: string, options: CallOptions) => Promise<PageLocation>;
  readonly changes: ChangeFeed;
  readonly countShortCircuitHits: (mount: string, bytes: number) => void;
  readonly mounts: () => Promise<MountInfo[]>;
}

/** The routes, for createRpcHandler's `routes` (a WorkerFileSystem offers both parts). */
export function shortCircuitRoutes(parts: ShortCircuitParts): ReadonlyMap<string, Route> {
  return new Map<string, Route>([
    [
      'GET locate',
      async ({ res, query, signal }) =>
        sendJson(res, await parts.locatePages(pathParam(query.get('path'), 'path'), { signal })),
    ],
    ['GET watch', async ({ res, signal }) => watch(parts.changes, res, signal)],
    [
      'POST short-circuit-hits',
      async ({ req, res }) => {
        const b = await jsonBody(req);
        if (!Array.isArray(b.hits) || b.hits.length > 10_000)
          throw bad('"hits" must be an array of at most 10,000 {mount, bytes}');
        const hits = b.hits.map((h: unknown) => {
          const o = h as { mount?: unknown; bytes?: unknown } | null;
          if (typeof o?.mount !== 'string' || !o.mount.startsWith('/'))
            throw bad('"hits[].mount" must be a mount point');
          if (typeof o.bytes !== 'number' || !Number.isSafeInteger(o.bytes) || o.bytes < 0)
            throw bad('"hits[].bytes" must be an integer ≥ 0');
          return { mount: o.mount, bytes: o.bytes };
        });
        // Only mounts this worker serves become label values (no series per made-up name).
        const known = new Set((await parts.mounts()).map((m) => m.path));
        for (const h of hits) if (known.has(h.mount)) parts.countShortCircuitHits(h.mount, h.bytes);
        res.writeHead(204);
        res.end();
      },
    ],
  ]);
}

async function watch(
  feed: ChangeFeed,
  res: import('node:http').ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const me = await hostIdentity();
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  // The hello goes out first: the client caches nothing from this worker before it has it.
  const send = (line: WatchLine) => {
    res.write(`${JSON.stringify(line)}\n`);
    if (res.writableLength > MAX_WATCH_BUFFER) res.destroy();
  };
  send({ hello: { seq: feed.seq, host: me } });
  await new Promise<void>((resolve) => {
    const unsubscribe = feed.subscribe((seq, changes: readonly Change[]) => {
      const paths = changes.filter((c) => !c.tree).map((c) => c.path);
      const trees = changes.filter((c) => c.tree).map((c) => c.path);
      send({
        seq,
        ...(paths.length > 0 ? { paths: [...new Set(paths)] } : {}),
        ...(trees.length > 0 ? { trees: [...new Set(trees)] } : {}),
      });
    });
    const beat = setInterval(() => send({ seq: feed.seq }), WATCH_HEARTBEAT_MS);
    beat.unref();
    const done = () => {
      clearInterval(beat);
      unsubscribe();
      resolve();
    };
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
    res.once('close', done);
    // The server answers half-closed requests (core/half-open.ts), so a client's FIN no longer
    // closes the response; a watcher never half-closes on purpose: its FIN means it is gone
    // (the stream ends; what was sent still goes out).
    // The FIN may have been read while the hello was prepared.
    if (res.socket?.readableEnded) done();
    else res.socket?.once('end', done);
  });
  if (!res.destroyed) res.end();
}
