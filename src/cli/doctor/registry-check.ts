import { listWorkers } from '../../client/connect.js';
import { resolveToken, type TokenSource } from '../../client/discovery.js';
import { toStrataError } from '../../core/errors.js';
import { isEtcdUri } from '../../registry/factory.js';
import { CLUSTER_TOKEN_KEY, type Registry } from '../../registry/registry.js';
import { type ClockSample, type DaemonTarget, type Finding, finding } from './finding.js';
import { probe, transportText } from './http-probe.js';

/**
 * The registry: reachable, of which kind (etcd, or the one embedded in `strata local`), with a
 * token it accepts, and which workers it lists. What the other checks need comes out of it.
 */

export interface RegistryView {
  readonly kind: 'embedded' | 'etcd';
  /** The token for the daemons' guarded endpoints (the cluster token for etcd). */
  readonly token: string | undefined;
  readonly workers: readonly DaemonTarget[];
  readonly clock: readonly ClockSample[];
}

export interface RegistryCheck {
  readonly findings: Finding[];
  /** Undefined when the registry could not be used: the checks that need it are not run. */
  readonly view?: RegistryView;
}

const REGISTRY_TIMEOUT_MS = 5_000;

const TOKEN_FROM: Record<TokenSource, string> = {
  option: 'given',
  'token-file': 'from --token-file',
  STRATA_TOKEN: 'from STRATA_TOKEN',
  STRATA_TOKEN_FILE: 'from STRATA_TOKEN_FILE',
  discovered: 'found beside strata local',
  none: 'none',
};

export async function checkRegistry(
  uri: string | undefined,
  tokenFile: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<RegistryCheck> {
  if (uri === undefined) {
    return {
      findings: [
        finding('registry', 'fail', 'no registry given', {
          fix: 'pass --registry URI or set STRATA_REGISTRY: http://HOST:PORT of "strata local" (its ready line\'s addresses.registry), or etcd://HOST:PORT of a cluster',
        }),
      ],
    };
  }
  if (isEtcdUri(uri)) return checkEtcd(uri, tokenFile, env);
  if (/^https?:\/\//.test(uri)) return checkEmbedded(uri, tokenFile, env);
  return {
    findings: [
      finding('registry', 'fail', `${uri} is not a registry URI`, {
        fix: 'use http://HOST:PORT (strata local) or etcd://HOST:PORT[,HOST:PORT] (a cluster)',
      }),
    ],
  };
}

async function checkEmbedded(
  uri: string,
  tokenFile: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<RegistryCheck> {
  const origin = new URL(uri).origin;
  let health: Awaited<ReturnType<typeof probe>>;
  try {
    health = await probe(`${origin}/healthz`, {
      timeoutMs: REGISTRY_TIMEOUT_MS,
      source: `registry ${origin}`,
    });
  } catch (err) {
    return {
      findings: [
        finding('registry', 'fail', `${origin} is unreachable: ${transportText(err)}`, {
          fix: 'start "strata local" (its ready line names addresses.registry), or pass the right --registry',
        }),
      ],
    };
  }
  const about = parseHealth(health.text);
  let resolved: Awaited<ReturnType<typeof resolveToken>>;
  try {
    resolved = await resolveToken(uri, { tokenFile }, env);
  } catch (err) {
    const e = toStrataError(err);
    return {
      findings: [
        finding('registry', 'fail', `the token cannot be read: ${e.code}: ${e.message}`, {
          fix: 'pass a readable --token-file (the <data dir>/token of strata local) or STRATA_TOKEN',
        }),
      ],
    };
  }
  let workers: DaemonTarget[];
  try {
    workers = (await listWorkers(uri, resolved.token === undefined ? {} : { token: resolved.token })).map(
      (w) => ({ role: 'local' as const, id: w.id, address: w.address }),
    );
  } catch (err) {
    const e = toStrataError(err);
    const fix =
      e.code === 'UNAUTHENTICATED'
        ? 'pass --token-file <data dir>/token of that strata local, or STRATA_TOKEN (on its machine, as its user, it is found by itself)'
        : `is ${origin} a "strata local"? A cluster worker's port is no registry: pass --registry etcd://HOST:PORT`;
    return {
      findings: [
        finding(
          'registry',
          'fail',
          `${origin} answers /healthz (${about}) but not the registry: ${e.code}: ${e.message}`,
          {
            fix,
          },
        ),
      ],
    };
  }
  const status = workers.length === 0 ? 'fail' : 'ok';
  return {
    findings: [
      finding(
        'registry',
        status,
        `${origin}: the registry embedded in ${about}, ${workers.length} live worker${workers.length === 1 ? '' : 's'}, token ${TOKEN_FROM[resolved.source]}`,
        { fix: 'the registry lists no worker: look at the log of strata local' },
      ),
    ],
    view: { kind: 'embedded', token: resolved.token, workers, clock: health.clock ? [health.clock] : [] },
  };
}

function parseHealth(text: string): string {
  try {
    const h = JSON.parse(text) as { role?: unknown; version?: unknown };
    return `strata ${String(h.role ?? '?')} ${String(h.version ?? '')}`.trim();
  } catch {
    return 'something that is not Strata';
  }
}

async function checkEtcd(
  uri: string,
  tokenFile: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<RegistryCheck> {
  const { createRegistry } = await import('../../registry/factory.js');
  let registry: Registry | undefined;
  const endpoints = uri
    .replace(/^etcds?:\/\//, '')
    .split('/')[0]!
    .split(',');
  try {
    registry = await createRegistry(uri, { callTimeoutMs: REGISTRY_TIMEOUT_MS });
    const listed = await registry.listWorkers();
    const given = await resolveToken(uri, { tokenFile, discover: false }, env);
    const token = given.token ?? (await registry.getConfig(CLUSTER_TOKEN_KEY));
    const workers = listed.map((w) => ({
      role: 'worker' as const,
      id: w.id,
      address: w.address,
      state: w.state,
    }));
    // etcd answers HTTP (https for etcds://) on its client port too: /version carries a Date header.
    const clock: ClockSample[] = [];
    const first = endpoints[0];
    if (first) {
      const v = await probe(`${uri.startsWith('etcds://') ? 'https' : 'http'}://${first}/version`, {
        timeoutMs: REGISTRY_TIMEOUT_MS,
        source: `etcd ${first}`,
      }).catch(() => undefined);
      if (v?.clock) clock.push(v.clock);
    }
    const status = workers.length === 0 ? 'warn' : 'ok';
    return {
      findings: [
        finding(
          'registry',
          status,
          `etcd at ${endpoints.join(', ')}: ${workers.length} live worker${workers.length === 1 ? '' : 's'}, token ${given.token === undefined ? (token === undefined ? 'none' : 'the cluster token in etcd') : TOKEN_FROM[given.source]}`,
          { fix: `no worker is registered: start "strata worker --registry ${uri}"` },
        ),
      ],
      view: { kind: 'etcd', token, workers, clock },
    };
  } catch (err) {
    const e = toStrataError(err);
    return {
      findings: [
        finding(
          'registry',
          'fail',
          `etcd at ${endpoints.join(', ')} is unreachable: ${e.code}: ${e.message}`,
          {
            fix:
              'check etcd runs and answers there ("etcdctl --endpoints=' +
              endpoints.join(',') +
              ' endpoint health"), and the address in --registry',
          },
        ),
      ],
    };
  } finally {
    await registry?.close().catch(() => undefined);
  }
}
