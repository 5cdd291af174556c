import { resolveToken, type TokenSource } from '../../client/discovery.js';
import { type CommandContext, defineCommand, flag, print, stringOption } from '../command.js';
import { json, maskSecrets, redactUserInfo } from '../format.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['conf', 'show'],
  summary: 'print the effective client configuration (secrets masked)',
  usage: 'conf show [--token-file FILE] [--json]',
  description:
    'Shows the registry in use and where it came from (--registry, STRATA_REGISTRY), where the token comes from (--token-file, STRATA_TOKEN, STRATA_TOKEN_FILE, or found beside a "strata local" of this user on this machine) and every STRATA_* environment variable. Secrets (the token, variables naming a secret, password, token or key, user info in URIs) are shown as ****.',
  examples: ['strata conf show', 'STRATA_REGISTRY=http://127.0.0.1:7070 strata conf show --json'],
  options: {
    'token-file': { type: 'string', valueName: 'FILE', help: 'the token file the other commands would use' },
    json: JSON_OPTION,
  },
  args: { min: 0, max: 0 },
  remote: false,
  async run(ctx) {
    const conf = await clientConf(ctx);
    if (flag(ctx, 'json')) {
      await print(ctx.io.stdout, json(conf));
      return 0;
    }
    const from = conf.tokenFile === null ? conf.tokenSource : `${conf.tokenSource}: ${conf.tokenFile}`;
    const lines = [
      `registry: ${conf.registry ?? '(not set: pass --registry or set STRATA_REGISTRY)'} [${conf.registrySource}]`,
      `token:    ${conf.token === null ? '(none)' : `${conf.token} [${from}]`}`,
      'environment:',
      ...Object.entries(conf.env).map(([k, v]) => `  ${k}=${v}`),
    ];
    if (Object.keys(conf.env).length === 0) lines.push('  (no STRATA_* variables)');
    await print(ctx.io.stdout, `${lines.join('\n')}\n`);
    return 0;
  },
});

/** The effective client configuration, secrets masked: what `conf show` prints and `conf get` looks up. */
export interface ClientConf {
  readonly registry: string | null;
  readonly registrySource: 'flag' | 'env' | 'unset';
  readonly token: '****' | null;
  readonly tokenSource: TokenSource;
  readonly tokenFile: string | null;
  readonly env: Readonly<Record<string, string>>;
}

export async function clientConf(ctx: CommandContext): Promise<ClientConf> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(ctx.env).sort()) if (key.startsWith('STRATA_')) env[key] = ctx.env[key];
  const registry = ctx.registry.uri === undefined ? null : redactUserInfo(ctx.registry.uri);
  const resolved = await resolveToken(
    ctx.registry.uri ?? '',
    { tokenFile: stringOption(ctx, 'token-file') ?? ctx.tokenFile },
    ctx.env,
  ).catch(() => ({ token: undefined, source: 'none' as const, file: undefined }));
  return {
    registry,
    registrySource: ctx.registry.source,
    token: resolved.token === undefined ? null : '****',
    tokenSource: resolved.source,
    tokenFile: resolved.file ?? null,
    env: maskSecrets(env),
  };
}
