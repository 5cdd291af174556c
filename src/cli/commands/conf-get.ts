import { request } from 'undici';
import { resolveToken } from '../../client/discovery.js';
import { transportError } from '../../client/remote-file-system.js';
import { SERVER_CONFIG_KEYS } from '../../core/config.js';
import { StrataError } from '../../core/errors.js';
import { clientRequestOptions } from '../../core/tls-options.js';
import { type CommandContext, defineCommand, flag, print, stringOption } from '../command.js';
import { json } from '../format.js';
import { JSON_OPTION } from '../options.js';
import { clientConf } from './conf-show.js';

/**
 * One value of the configuration `conf show` prints (the same source: clientConf), or with
 * --server one key of the running `strata local`'s effective configuration (its
 * /api/v1/config, secrets masked there).
 */

const CLIENT_KEYS = ['registry', 'registrySource', 'token', 'tokenSource', 'tokenFile'] as const;

export default defineCommand({
  words: ['conf', 'get'],
  summary: 'print one configuration value (secrets masked)',
  usage: 'conf get KEY [--server] [--token-file FILE] [--json]',
  description: `KEY is one of "conf show"'s: ${CLIENT_KEYS.join(', ')}, or an environment variable STRATA_* (also as env.STRATA_*). With --server, KEY is a key of the effective configuration of the "strata local" at --registry (e.g. pageSize, memoryCapacity, diskCapacity, dataDir, mounts; sizes in bytes, durations in ms). Prints the value alone (a list one item a line; nothing for an unset value); an unknown key is an error.`,
  examples: [
    'strata conf get registry',
    'strata conf get STRATA_TOKEN_FILE',
    'strata conf get --server pageSize --registry http://127.0.0.1:19998',
    'strata conf get tokenSource --json',
  ],
  options: {
    server: { type: 'boolean', help: "look the key up in the running strata local's configuration" },
    'token-file': { type: 'string', valueName: 'FILE', help: 'the token file the other commands would use' },
    json: { ...JSON_OPTION, help: 'print {key, value, from}' },
  },
  args: { min: 1, max: 1 },
  // Takes --registry (for --server, and to show it as `registry`).
  remote: true,
  async run(ctx) {
    const key = ctx.positionals[0]!;
    const found = flag(ctx, 'server') ? await serverValue(ctx, key) : await clientValue(ctx, key);
    if (flag(ctx, 'json')) {
      await print(ctx.io.stdout, json({ key, value: found.value, from: found.from }));
      return 0;
    }
    const v = found.value;
    const text =
      v === null
        ? ''
        : Array.isArray(v)
          ? v.map(String).join('\n')
          : typeof v === 'object'
            ? JSON.stringify(v)
            : String(v);
    await print(ctx.io.stdout, text === '' ? '' : `${text}\n`);
    return 0;
  },
});

interface Found {
  readonly value: unknown;
  /** "client" or the server's address. */
  readonly from: string;
}

async function clientValue(ctx: CommandContext, key: string): Promise<Found> {
  const conf = await clientConf(ctx);
  if ((CLIENT_KEYS as readonly string[]).includes(key))
    return { value: conf[key as (typeof CLIENT_KEYS)[number]], from: 'client' };
  const name = key.startsWith('env.') ? key.slice(4) : key;
  if (/^STRATA_[A-Z0-9_]+$/.test(name)) return { value: conf.env[name] ?? null, from: 'client' };
  throw new StrataError(
    'INVALID_ARGUMENT',
    `unknown configuration key "${key}": the client's keys are ${CLIENT_KEYS.join(', ')} and STRATA_* variables; a server key (pageSize, dataDir, …) needs --server`,
  );
}

async function serverValue(ctx: CommandContext, key: string): Promise<Found> {
  const uri = ctx.registry.uri;
  if (uri === undefined || !/^https?:\/\//.test(uri))
    throw new StrataError(
      'INVALID_ARGUMENT',
      '--server reads the configuration of a "strata local": pass --registry http://HOST:PORT (or set STRATA_REGISTRY)',
    );
  const origin = new URL(uri).origin;
  const { token } = await resolveToken(
    uri,
    { tokenFile: stringOption(ctx, 'token-file') ?? ctx.tokenFile },
    ctx.env,
  );
  let status: number;
  let body: unknown;
  try {
    const res = await request(`${origin}/api/v1/config`, {
      ...(await clientRequestOptions()),
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    status = res.statusCode;
    body = await res.body.json();
  } catch (err) {
    throw transportError(err, `strata local ${origin}`);
  }
  if (status !== 200) {
    const e = (body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new StrataError(
      status === 401 ? 'UNAUTHENTICATED' : 'UNAVAILABLE',
      `${origin}/api/v1/config answered HTTP ${status}: ${e?.message ?? ''}`,
    );
  }
  const conf = body as Record<string, unknown>;
  if (!Object.hasOwn(conf, key) && !(SERVER_CONFIG_KEYS as readonly string[]).includes(key))
    throw new StrataError(
      'INVALID_ARGUMENT',
      `unknown configuration key "${key}" at ${origin}; its keys are ${Object.keys(conf).sort().join(', ')}`,
    );
  return { value: conf[key] ?? null, from: origin };
}
