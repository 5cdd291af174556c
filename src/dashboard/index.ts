import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Registry as PromRegistry } from 'prom-client';
import { type ConnectedFileSystem, connect } from '../client/connect.js';
import { JobsClient } from '../client/jobs-client.js';
import { StrataError } from '../core/errors.js';
import type { StrataFileSystem } from '../core/file-system.js';
import { API_PREFIX, handleApi } from './api.js';
import { MetricsHistory } from './history.js';
import { type NodeView, readNodeCounters, sampleOf } from './node-view.js';
import { IMPORT_MAP, StaticAssets, scriptHash } from './static.js';
import { DashboardViews } from './views.js';

/**
 * The web dashboard of the admin port (`GET /`), of `strata local` and of every `strata worker`.
 * Its handler goes before the token gate: the page and the read-only views answer loopback
 * callers without a token; actions check it themselves (`authorize`).
 */

export interface DashboardOptions {
  readonly role: 'local' | 'worker';
  readonly workerId: string;
  /** This worker's own file system. */
  readonly fs: StrataFileSystem;
  /** This worker's Prometheus registry, and how to refresh its tier gauges before a read. */
  readonly metrics: PromRegistry;
  readonly updateGauges: () => void;
  /**
   * A cluster's registry (etcd://…): views and actions go through a ClusterFileSystem over it, so
   * any worker's dashboard shows the whole cluster. Unset: `fs` is the whole deployment (local).
   */
  readonly clusterRegistry?: string;
  /** Where the jobs API is: the http origin of `strata local`, or the cluster's etcd:// URI. */
  readonly jobsAddress: string;
  /** The cluster token or admin token actions need; undefined: none (`strata local --insecure`). */
  readonly token: string | undefined;
  /** Throws UNAUTHENTICATED unless the request carries the token (the admin port's own check). */
  readonly authorize: (req: IncomingMessage) => void;
  /** The admin listener: the dashboard stops its sampler and connections when it closes. */
  readonly server: Server;
  /** Default: STRATA_DASHBOARD_SAMPLE_MS, else 5 s. */
  readonly historyIntervalMs?: number;
  /** Deadline of a call to another worker's dashboard API. Default 3 s. */
  readonly peerTimeoutMs?: number;
}

export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface Dashboard {
  readonly handle: DashboardHandler;
  /** The worker's registry lease, once registered (the Workers page's "last lease renewal"). */
  lease: { readonly renewedAtMs?: number } | undefined;
  readonly history: MetricsHistory;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  'content-security-policy': [
    "default-src 'self'",
    `script-src 'self' ${scriptHash(IMPORT_MAP)}`,
    // uPlot positions its parts with style attributes.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'referrer-policy': 'no-referrer',
};

/** STRATA_DASHBOARD_SAMPLE_MS: how often the charts' history samples (tests use a short one). */
function sampleIntervalFromEnv(): number | undefined {
  const text = process.env.STRATA_DASHBOARD_SAMPLE_MS;
  if (text === undefined || text === '') return undefined;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 100)
    throw new StrataError(
      'INVALID_ARGUMENT',
      `STRATA_DASHBOARD_SAMPLE_MS must be a whole number of ms ≥ 100, got "${text}"`,
    );
  return ms;
}

export function createDashboard(o: DashboardOptions): Dashboard {
  const counters = () => readNodeCounters(o.metrics, o.updateGauges);
  const intervalMs = o.historyIntervalMs ?? sampleIntervalFromEnv();
  const history = new MetricsHistory(async () => sampleOf(await counters()), {
    ...(intervalMs === undefined ? {} : { intervalMs }),
  });
  let cluster: Promise<ConnectedFileSystem> | undefined;
  let jobs: JobsClient | undefined;
  const jobsClient = () => {
    jobs ??= new JobsClient(o.jobsAddress, { token: o.token, discover: false });
    return jobs;
  };
  const fs = async () => {
    if (o.clusterRegistry === undefined) return o.fs;
    if (cluster === undefined) {
      const opening = connect(o.clusterRegistry, {
        ...(o.token === undefined ? {} : { token: o.token }),
        discoverToken: false,
      });
      cluster = opening;
      // A registry that did not answer is tried again on the next request.
      opening.catch(() => {
        if (cluster === opening) cluster = undefined;
      });
    }
    return cluster;
  };
  const dashboard: Dashboard = {
    lease: undefined,
    history,
    handle: async () => false,
    async close() {
      history.stop();
      const c = cluster;
      cluster = undefined;
      await (await c?.catch(() => undefined))?.close();
      await jobs?.close();
    },
  };
  const self = async (): Promise<NodeView> => {
    const renewed = dashboard.lease?.renewedAtMs;
    return { id: o.workerId, ...(renewed ? { leaseRenewedAtMs: renewed } : {}), ...(await counters()) };
  };
  const peerTimeoutMs = o.peerTimeoutMs ?? 3000;
  const views = new DashboardViews({
    role: o.role,
    selfId: o.workerId,
    fs,
    self,
    selfHistory: () => history.samples(),
    historyIntervalMs: history.intervalMs,
    jobs: () => jobsClient().list(),
    async peer<T>(address: string, path: string): Promise<T> {
      const res = await fetch(`${address}${path}`, {
        headers: o.token === undefined ? {} : { authorization: `Bearer ${o.token}` },
        signal: AbortSignal.timeout(peerTimeoutMs),
      });
      if (!res.ok) throw new StrataError('UNAVAILABLE', `${address}${path} answered HTTP ${res.status}`);
      return (await res.json()) as T;
    },
  });
  const assets = new StaticAssets(undefined, (html) =>
    html.replace('<!--IMPORTMAP-->', `<script type="importmap">${IMPORT_MAP}</script>`),
  );
  (dashboard as { handle: DashboardHandler }).handle = async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith(API_PREFIX)) {
      await handleApi(
        {
          views,
          selfId: o.workerId,
          fs,
          self,
          selfHistory: () => history.samples(),
          authorize: o.authorize,
          tokenRequired: o.token !== undefined,
          submitJob: (kind, path) => jobsClient().submit(kind, path),
          cancelJob: (id) => jobsClient().cancel(id),
        },
        req,
        res,
        url,
      );
      return true;
    }
    if (assets.fileOf(url.pathname) === undefined) return false;
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    return assets.serve(req, res, url.pathname);
  };
  history.start();
  o.server.once('close', () => void dashboard.close());
  return dashboard;
}
