import { request } from 'undici';
import { abortError } from '../core/abort.js';
import { isStrataError, StrataError } from '../core/errors.js';
import { isFinal, JOB_STATES, type JobInfo, type JobState } from '../core/jobs.js';
import { clientRequestOptions } from '../core/tls-options.js';
import type { MemberInfo, Registry } from '../registry/registry.js';
import { CLUSTER_TOKEN_KEY } from '../registry/registry.js';
import { resolveToken, type TokenSources } from './discovery.js';
import { errorFrom, transportError } from './remote-file-system.js';

/**
 * A client of the jobs API (src/server/jobs-http.ts): submit, list, show, cancel and wait for jobs.
 * The address is either
 * - the http address of `strata local` (its addresses.admin, also its registry): the token is
 *   found as for RemoteFileSystem (src/client/discovery.ts): option, --token-file, STRATA_TOKEN,
 *   STRATA_TOKEN_FILE, discovery; or
 * - an `etcd://…` registry URI: the live schedulers are the registry's members of role
 *   "scheduler"; calls go to the elected leader (any live scheduler while the leader is not listed
 *   yet) and move to the next one when a scheduler is unreachable (UNAVAILABLE, TIMEOUT). The
 *   token: option, --token-file, STRATA_TOKEN, STRATA_TOKEN_FILE, else the cluster token in the
 *   registry. Call close() to let go of the registry connection.
 */

export { isFinal, JOB_STATES, type JobInfo, type JobState };

export interface JobsClientOptions extends TokenSources {
  /** Deadline of one call. Default 30,000 ms. */
  readonly requestTimeoutMs?: number;
}

/** A scheduler as `strata report` lists it. */
export interface SchedulerInfo extends MemberInfo {
  /** Whether it is the elected leader (the one running jobs). */
  readonly leader: boolean;
}

/** Extra fields of a submit: a destination (copy, move) or a list file instead of `path`. */
export interface SubmitExtra {
  readonly dst?: string;
  readonly fromList?: string;
}

export class JobsClient {
  /** The address given: http(s) origin of `strata local`, or the etcd:// registry URI. */
  readonly address: string;
  readonly #timeoutMs: number;
  readonly #http: { readonly origin: string; readonly token: Promise<string | undefined> } | undefined;
  readonly #cluster: ClusterSchedulers | undefined;

  constructor(address: string, options: JobsClientOptions = {}) {
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    if (/^etcds?:\/\//.test(address)) {
      this.address = address;
      this.#cluster = new ClusterSchedulers(address, options);
      this.#http = undefined;
      return;
    }
    let url: URL;
    try {
      url = new URL(address);
    } catch (err) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `not a jobs address: ${address} (expected http://host:port of "strata local" or etcd://host:port)`,
        { cause: err },
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new StrataError(
        'INVALID_ARGUMENT',
        `jobs are reached at http://host:port ("strata local") or etcd://host:port (a cluster's schedulers), got ${address}`,
      );
    this.address = url.origin;
    const token = resolveToken(url.origin, options).then((r) => r.token);
    token.catch(() => undefined);
    this.#http = { origin: url.origin, token };
    this.#cluster = undefined;
  }

  /** The http origin of `strata local`, or undefined for a cluster (see `address`). */
  get baseUrl(): string | undefined {
    return this.#http?.origin;
  }

  /** `path` may be '' when `extra.fromList` names the list of paths instead. */
  submit(
    kind: string,
    path: string,
    options: Record<string, unknown> = {},
    extra: SubmitExtra = {},
  ): Promise<JobInfo> {
    return this.#call('POST', '/api/v1/jobs', {
      kind,
      ...(path === '' ? {} : { path }),
      options,
      ...(extra.dst === undefined ? {} : { dst: extra.dst }),
      ...(extra.fromList === undefined ? {} : { fromList: extra.fromList }),
    });
  }

  async list(state?: string): Promise<JobInfo[]> {
    const q = state === undefined ? '' : `?state=${encodeURIComponent(state)}`;
    return (await this.#call<{ jobs: JobInfo[] }>('GET', `/api/v1/jobs${q}`)).jobs;
  }

  get(id: string): Promise<JobInfo> {
    return this.#call('GET', `/api/v1/jobs/${encodeURIComponent(id)}`);
  }

  cancel(id: string): Promise<JobInfo> {
    return this.#call('POST', `/api/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  /** Polls the job until it has ended; `onChange` sees each new state of it. */
  async wait(
    id: string,
    options: { intervalMs?: number; signal?: AbortSignal; onChange?: (job: JobInfo) => void } = {},
  ): Promise<JobInfo> {
    let last = '';
    for (;;) {
      const job = await this.get(id);
      const key = `${job.state} ${job.filesDone} ${job.filesSkipped} ${job.filesFailed} ${job.filesTotal}`;
      if (key !== last) options.onChange?.(job);
      last = key;
      if (isFinal(job.state)) return job;
      if (options.signal?.aborted) throw abortError(options.signal);
      await new Promise((ok) => setTimeout(ok, options.intervalMs ?? 200));
    }
  }

  /**
   * The live schedulers and which one leads: a cluster's members of role "scheduler"; for
   * `strata local`, its one embedded scheduler (from its registry view).
   */
  async schedulers(): Promise<SchedulerInfo[]> {
    if (this.#cluster !== undefined) return this.#cluster.schedulers();
    let body: { members?: unknown; leader?: unknown };
    try {
      body = await this.#callAt(
        this.#http!.origin,
        await this.#http!.token,
        'GET',
        '/registry/v1/members/scheduler',
      );
    } catch (err) {
      // A registry view without members (an older strata local) lists no schedulers.
      if (isStrataError(err, 'NOT_FOUND')) return [];
      throw err;
    }
    const leader = typeof body.leader === 'string' ? body.leader : undefined;
    return (Array.isArray(body.members) ? body.members : []).filter(isMember).map((m) => ({
      id: m.id,
      address: m.address,
      version: m.version,
      startedAtMs: m.startedAtMs,
      leader: m.id === leader,
    }));
  }

  /** Lets go of the registry connection (cluster addresses); nothing to do for `strata local`. */
  async close(): Promise<void> {
    await this.#cluster?.close();
  }

  async #call<T>(method: 'GET' | 'POST', path: string, json?: unknown): Promise<T> {
    if (this.#http !== undefined)
      return this.#callAt<T>(this.#http.origin, await this.#http.token, method, path, json);
    const cluster = this.#cluster!;
    const token = await cluster.token();
    const tried = new Set<string>();
    let last: unknown;
    // First the scheduler that answered last; when it fails, look at the registry again.
    for (const fresh of [false, true]) {
      const targets = await cluster.targets(fresh);
      // None left in the registry: say how to start one rather than which address failed.
      if (fresh && targets.length === 0) throw cluster.noScheduler();
      for (const address of targets) {
        if (tried.has(address)) continue;
        tried.add(address);
        try {
          const answer = await this.#callAt<T>(address, token, method, path, json);
          cluster.answered(address);
          return answer;
        } catch (err) {
          if (!isStrataError(err, 'UNAVAILABLE') && !isStrataError(err, 'TIMEOUT')) throw err;
          last = err;
        }
      }
    }
    throw new StrataError(
      'UNAVAILABLE',
      `no scheduler of ${cluster.uri} answered (tried ${[...tried].join(', ')}): ${(last as Error).message}`,
      { cause: last },
    );
  }

  async #callAt<T>(
    origin: string,
    token: string | undefined,
    method: 'GET' | 'POST',
    path: string,
    json?: unknown,
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (json !== undefined) headers['content-type'] = 'application/json';
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(`${origin}${path}`, {
        ...(await clientRequestOptions()),
        method,
        headers,
        body: json === undefined ? null : JSON.stringify(json),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (err) {
      throw transportError(err, `${method} ${path} on ${origin}`);
    }
    if (res.statusCode !== 200 && res.statusCode !== 201) throw await errorFrom(res);
    return (await res.body.json()) as T;
  }
}

/** The schedulers of an etcd registry, the registry opened on first use. */
class ClusterSchedulers {
  #registry: Promise<Registry> | undefined;
  #token: Promise<string | undefined> | undefined;
  /** Admin addresses in the order to try them (the one that answered last first). */
  #order: string[] | undefined;

  constructor(
    readonly uri: string,
    private readonly sources: TokenSources,
  ) {}

  token(): Promise<string | undefined> {
    if (this.#token === undefined) {
      const finding = (async () => {
        const given = await resolveToken(this.uri, { ...this.sources, discover: false });
        return given.token ?? (await (await this.registry()).getConfig(CLUSTER_TOKEN_KEY));
      })();
      this.#token = finding;
      finding.catch(() => {
        if (this.#token === finding) this.#token = undefined;
      });
    }
    return this.#token;
  }

  async targets(fresh: boolean): Promise<string[]> {
    if (!fresh && this.#order !== undefined) return this.#order;
    this.#order = (await this.schedulers()).map((s) => s.address);
    return this.#order;
  }

  answered(address: string): void {
    this.#order = [address, ...(this.#order ?? []).filter((a) => a !== address)];
  }

  /** Live schedulers, the leader first. */
  async schedulers(): Promise<SchedulerInfo[]> {
    const registry = await this.registry();
    const [members, leader] = await Promise.all([
      registry.listMembers('scheduler'),
      registry.leader('scheduler'),
    ]);
    return members
      .map((m) => ({ ...m, leader: m.id === leader }))
      .sort((a, b) => Number(b.leader) - Number(a.leader) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  noScheduler(): StrataError {
    return new StrataError(
      'UNAVAILABLE',
      `no scheduler is running for ${this.uri}: start one with "strata scheduler --registry ${this.uri}"`,
    );
  }

  async close(): Promise<void> {
    const registry = this.#registry;
    this.#registry = undefined;
    if (registry !== undefined) await (await registry.catch(() => undefined))?.close();
  }

  private registry(): Promise<Registry> {
    if (this.#registry === undefined) {
      const opening = (async () => {
        const { createRegistry } = await import('../registry/factory.js');
        return createRegistry(this.uri, {});
      })();
      this.#registry = opening;
      // An unreachable registry is not remembered: the next call tries again.
      opening.catch(() => {
        if (this.#registry === opening) this.#registry = undefined;
      });
    }
    return this.#registry;
  }
}

function isMember(m: unknown): m is MemberInfo {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return typeof r.id === 'string' && typeof r.address === 'string';
}
