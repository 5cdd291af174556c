import { request } from 'undici';
import { abortError } from '../core/abort.js';
import { StrataError } from '../core/errors.js';
import { isFinal, JOB_STATES, type JobInfo, type JobState } from '../core/jobs.js';
import { resolveToken, type TokenSources } from './discovery.js';
import { errorFrom, transportError } from './remote-file-system.js';

/**
 * A client of the jobs part of the admin API of `strata local` (src/server/jobs-http.ts):
 * submit, list, show, cancel and wait for jobs. The token is found as for RemoteFileSystem
 * (src/client/discovery.ts): option, --token-file, STRATA_TOKEN, STRATA_TOKEN_FILE, discovery.
 */

export { isFinal, JOB_STATES, type JobInfo, type JobState };

export interface JobsClientOptions extends TokenSources {
  /** Deadline of one call. Default 30,000 ms. */
  readonly requestTimeoutMs?: number;
}

export class JobsClient {
  readonly baseUrl: string;
  #token: Promise<string | undefined>;
  readonly #timeoutMs: number;

  /** `address`: the admin address of `strata local` (its addresses.admin, also its registry). */
  constructor(address: string, options: JobsClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(address);
    } catch (err) {
      throw new StrataError('INVALID_ARGUMENT', `not an http address: ${address}`, { cause: err });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new StrataError(
        'UNSUPPORTED',
        `jobs are run by "strata local" (http://host:port); the cluster scheduler daemon is not built yet, got ${address}`,
      );
    this.baseUrl = url.origin;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#token = resolveToken(this.baseUrl, options).then((r) => r.token);
    this.#token.catch(() => undefined);
  }

  /** `path` may be '' when `extra.fromList` names the list of paths instead. */
  submit(
    kind: string,
    path: string,
    options: Record<string, unknown> = {},
    extra: { dst?: string; fromList?: string } = {},
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

  async #call<T>(method: 'GET' | 'POST', path: string, json?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = await this.#token;
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (json !== undefined) headers['content-type'] = 'application/json';
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: json === undefined ? null : JSON.stringify(json),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (err) {
      throw transportError(err, `${method} ${path} on ${this.baseUrl}`);
    }
    if (res.statusCode !== 200 && res.statusCode !== 201) throw await errorFrom(res);
    return (await res.body.json()) as T;
  }
}
