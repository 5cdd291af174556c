import { request } from 'undici';
import { resolveToken } from '../client/discovery.js';
import { errorFrom, transportError } from '../client/remote-file-system.js';
import { StrataError } from '../core/errors.js';
import { newSealKeyText, parseSealKey } from '../core/seal.js';
import { clientRequestOptions } from '../core/tls-options.js';
import { SEAL_KEY_CONFIG_KEY } from '../registry/registry.js';
import {
  addS3Key,
  addS3User,
  listS3UserViews,
  removeS3Key,
  removeS3User,
  type S3NewKey,
  type S3UserView,
} from '../registry/s3-users.js';
import { S3_USERS_ROUTE } from '../registry/s3-users-http.js';
import { UsageError } from './command.js';

/**
 * Where `strata s3 user …` changes S3 users: a cluster's etcd directly (secrets sealed with the
 * cluster's seal key, as the daemons do), or `strata local` through its HTTP API
 * (registry/s3-users-http.ts), which seals them with its own key. Both run registry/s3-users.ts.
 */
export interface S3UserAdmin {
  list(): Promise<S3UserView[]>;
  add(name: string): Promise<S3NewKey>;
  remove(name: string): Promise<void>;
  addKey(name: string): Promise<S3NewKey>;
  removeKey(name: string, accessKeyId: string): Promise<void>;
  close(): Promise<void>;
}

export async function openS3UserAdmin(
  registryUri: string | undefined,
  tokenFile: string | undefined,
): Promise<S3UserAdmin> {
  if (registryUri === undefined)
    throw new UsageError(
      'no registry given: pass --registry http://HOST:PORT (strata local) or etcd://HOST:PORT, or set STRATA_REGISTRY',
    );
  if (/^etcds?:\/\//.test(registryUri)) return clusterAdmin(registryUri);
  return httpAdmin(registryUri, tokenFile);
}

async function clusterAdmin(uri: string): Promise<S3UserAdmin> {
  const [{ createRegistry }, { SealedRegistry }, { secretOptionsOf }] = await Promise.all([
    import('../registry/factory.js'),
    import('../registry/sealed-registry.js'),
    import('../ufs/factory.js'),
  ]);
  const raw = await createRegistry(uri, {});
  try {
    // The key every daemon of the cluster shares (created by whichever process comes first).
    const key = parseSealKey(await raw.initConfig(SEAL_KEY_CONFIG_KEY, newSealKeyText()));
    const registry = new SealedRegistry(raw, { key, secretOptionsOf });
    return {
      list: () => listS3UserViews(registry),
      add: (name) => addS3User(registry, name),
      remove: (name) => removeS3User(registry, name),
      addKey: (name) => addS3Key(registry, name),
      removeKey: (name, id) => removeS3Key(registry, name, id),
      close: () => raw.close(),
    };
  } catch (err) {
    await raw.close().catch(() => undefined);
    throw err;
  }
}

function httpAdmin(uri: string, tokenFile: string | undefined): S3UserAdmin {
  let base: URL;
  try {
    base = new URL(uri);
  } catch (err) {
    throw new StrataError('INVALID_ARGUMENT', `registry is not a URI: ${uri}`, { cause: err });
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new StrataError(
      'INVALID_ARGUMENT',
      `registry must be http://host:port or etcd://host:port, got ${uri}`,
    );
  const token = resolveToken(base.origin, tokenFile === undefined ? {} : { tokenFile }).then((t) => t.token);
  token.catch(() => undefined);
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    const t = await token;
    if (t !== undefined) headers.authorization = `Bearer ${t}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(new URL(path, base.origin), {
        ...(await clientRequestOptions()),
        method: method as 'GET',
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
    } catch (err) {
      throw transportError(err, `strata local ${base.origin}`);
    }
    if (res.statusCode >= 400) throw await errorFrom(res);
    return (await res.body.json()) as T;
  };
  const user = (name: string) => `${S3_USERS_ROUTE}/${encodeURIComponent(name)}`;
  return {
    list: async () => (await call<{ users: S3UserView[] }>('GET', S3_USERS_ROUTE)).users,
    add: (name) => call<S3NewKey>('POST', S3_USERS_ROUTE, { name }),
    remove: async (name) => {
      await call('DELETE', user(name));
    },
    addKey: (name) => call<S3NewKey>('POST', `${user(name)}/keys`),
    removeKey: async (name, id) => {
      await call('DELETE', `${user(name)}/keys/${encodeURIComponent(id)}`);
    },
    close: async () => undefined,
  };
}

/** Runs `fn` on the admin of the command's registry, closed afterwards. */
export async function withS3UserAdmin<T>(
  ctx: { readonly registry: { readonly uri: string | undefined }; readonly tokenFile?: string },
  fn: (admin: S3UserAdmin) => Promise<T>,
): Promise<T> {
  const admin = await openS3UserAdmin(ctx.registry.uri, ctx.tokenFile);
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

/** A new key as printed once: JSON (one object) or text that says it will not be shown again. */
export function newKeyText(key: S3NewKey, asJson: boolean): string {
  if (asJson) return `${JSON.stringify(key)}\n`;
  return (
    `user:            ${key.name}\n` +
    `accessKeyId:     ${key.accessKeyId}\n` +
    `secretAccessKey: ${key.secretAccessKey}\n` +
    'The secret is shown this once: store it now (strata keeps it sealed and never prints it again).\n'
  );
}
