import type { ServerResponse } from 'node:http';
import { StrataError } from '../core/errors.js';
import type { StrataFileSystem } from '../core/file-system.js';
import { readJsonObject } from '../core/json-body.js';
import { normalizePath } from '../core/paths.js';
import type { Registry } from '../registry/registry.js';
import { cancelJob, submitOrFind } from '../scheduler/engine.js';
import { JOB_STATES, jobJson, type SchedulerJob } from '../scheduler/job-record.js';
import type { Handler } from './http-server.js';

/**
 * The jobs part of the admin API (behind the token gate):
 * - `POST /api/v1/jobs` {kind, path?, dst?, fromList?, options?} → 201 and the job; 200 and the
 *   unfinished job of the same kind, path and dst when there is one (submitting twice starts
 *   nothing new) — with its bandwidth updated when the body's `options.bandwidth` differs.
 * - `GET /api/v1/jobs[?state=S]` → {jobs: [...]}, oldest first.
 * - `GET /api/v1/jobs/ID` → the job.
 * - `POST /api/v1/jobs/ID/cancel` → the job (CANCELLED, or as it ended if it had); `onCancel`
 *   lets the scheduler of this process abort its engine at once.
 * Errors are the one table's (docs/errors.md) as `{"error":{code,message}}`.
 */

const MAX_BODY = 64 * 1024;

export function jobsHandler(
  registry: Registry,
  fs: StrataFileSystem,
  onSubmit: () => void,
  onCancel?: (id: string) => void,
): Handler {
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter((p) => p !== '');
    if (parts[0] !== 'api' || parts[1] !== 'v1' || parts[2] !== 'jobs') return false;
    const id = parts[3] === undefined ? undefined : decodeURIComponent(parts[3]);
    if (id === undefined && parts.length === 3) {
      if (req.method === 'GET') {
        const state = url.searchParams.get('state');
        if (state !== null && !(JOB_STATES as readonly string[]).includes(state.toUpperCase()))
          throw new StrataError('INVALID_ARGUMENT', `state must be one of ${JOB_STATES.join(', ')}`);
        const jobs = ((await registry.listJobs()) as SchedulerJob[])
          .filter((j) => state === null || j.state === state.toUpperCase())
          .sort((a, b) => a.createdAtMs - b.createdAtMs);
        send(res, 200, { jobs: jobs.map(jobJson) });
        return true;
      }
      if (req.method === 'POST') {
        const body = await readJsonObject(req, MAX_BODY, 'a job request');
        const kind = body.kind;
        const options = body.options ?? {};
        if (typeof kind !== 'string' || kind === '')
          throw new StrataError('INVALID_ARGUMENT', 'a job needs a "kind"');
        const text = (name: string): string | undefined => {
          const v = body[name];
          if (v === undefined) return undefined;
          if (typeof v !== 'string' || v === '')
            throw new StrataError('INVALID_ARGUMENT', `"${name}" must be a non-empty string (a Strata path)`);
          return v;
        };
        const path = text('path');
        const dst = text('dst');
        const fromList = text('fromList');
        if (path === undefined && fromList === undefined)
          throw new StrataError('INVALID_ARGUMENT', 'a job needs a "path" (or "fromList")');
        if (typeof options !== 'object' || options === null || Array.isArray(options))
          throw new StrataError('INVALID_ARGUMENT', '"options" must be an object');
        for (const key of Object.keys(body)) {
          if (!['kind', 'path', 'dst', 'fromList', 'options'].includes(key))
            throw new StrataError('INVALID_ARGUMENT', `unknown field "${key}" in a job request`);
        }
        const { job, created } = await submitOrFind(registry, fs, {
          kind,
          path: normalizePath(path ?? fromList!),
          ...(dst === undefined ? {} : { dst }),
          ...(fromList === undefined ? {} : { fromList }),
          options: options as Record<string, unknown>,
        });
        if (created) onSubmit();
        send(res, created ? 201 : 200, jobJson(job));
        return true;
      }
      throw new StrataError('INVALID_ARGUMENT', `${req.method} is not allowed on /api/v1/jobs`);
    }
    if (id !== undefined && parts.length === 4 && req.method === 'GET') {
      const found = await registry.readJob(id);
      if (found === undefined) throw new StrataError('NOT_FOUND', `no job ${id}`);
      send(res, 200, jobJson(found.job as SchedulerJob));
      return true;
    }
    if (id !== undefined && parts.length === 5 && parts[4] === 'cancel' && req.method === 'POST') {
      const job = await cancelJob(registry, id);
      onCancel?.(id);
      send(res, 200, jobJson(job));
      return true;
    }
    throw new StrataError('NOT_FOUND', `no route ${req.method} ${url.pathname}`);
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
