import { randomBytes } from 'node:crypto';
import { readTokenFile } from '../client/discovery.js';
import { newSealKeyText, parseSealKey } from '../core/seal.js';
import { createRegistry } from '../registry/factory.js';
import { CLUSTER_TOKEN_KEY, type Registry, SEAL_KEY_CONFIG_KEY } from '../registry/registry.js';
import { SealedRegistry } from '../registry/sealed-registry.js';
import { secretOptionsOf } from '../ufs/factory.js';

/**
 * How a cluster daemon (`strata worker`, `strata scheduler`) opens the registry: the cluster
 * token and the seal key of mount secrets come from it, created there (atomically) by whichever
 * daemon starts first unless a token is given, so every process with registry access shares them.
 */

export interface ClusterRegistryOptions {
  /** Data directory (an embedded registry keeps its files there). */
  readonly dataDir?: string;
  /** The token itself (STRATA_TOKEN); wins over `tokenFile`. */
  readonly token?: string | undefined;
  /** A file holding the token (--token-file). */
  readonly tokenFile?: string | undefined;
  /** Default lease of the registry's registrations and elections (ms). */
  readonly leaseTtlMs?: number;
}

export interface ClusterRegistry {
  /** The registry with mount secrets sealed on the way in and opened on the way out. */
  readonly registry: SealedRegistry;
  /** The bearer token every call but /healthz and /metrics must carry. */
  readonly token: string;
}

export async function openClusterRegistry(
  uri: string,
  options: ClusterRegistryOptions = {},
): Promise<ClusterRegistry> {
  const raw: Registry = await createRegistry(uri, {
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.leaseTtlMs === undefined ? {} : { leaseTtlMs: options.leaseTtlMs }),
  });
  try {
    const token =
      options.token ??
      (options.tokenFile === undefined ? undefined : await readTokenFile(options.tokenFile)) ??
      (await raw.initConfig(CLUSTER_TOKEN_KEY, randomBytes(24).toString('base64url')));
    const sealKey = parseSealKey(await raw.initConfig(SEAL_KEY_CONFIG_KEY, newSealKeyText()));
    return { registry: new SealedRegistry(raw, { key: sealKey, secretOptionsOf }), token };
  } catch (err) {
    await raw.close().catch(() => undefined);
    throw err;
  }
}
