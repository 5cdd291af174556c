import { defineCommand, flag, print } from '../command.js';
import { json, maskSecrets } from '../format.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['conf', 'show'],
  summary: 'print the effective client configuration (secrets masked)',
  usage: 'conf show [--json]',
  description:
    'Shows the registry in use and where it came from (--registry, STRATA_REGISTRY) and every STRATA_* environment variable. Values of keys naming a secret, password, token or key are shown as ****.',
  examples: ['strata conf show', 'STRATA_REGISTRY=http://127.0.0.1:7070 strata conf show --json'],
  options: { json: JSON_OPTION },
  args: { min: 0, max: 0 },
  remote: false,
  async run(ctx) {
    const env: Record<string, string | undefined> = {};
    for (const key of Object.keys(ctx.env).sort()) if (key.startsWith('STRATA_')) env[key] = ctx.env[key];
    const conf = {
      registry: ctx.registry.uri ?? null,
      registrySource: ctx.registry.source,
      token: ctx.env.STRATA_TOKEN === undefined ? null : '****',
      env: maskSecrets(env),
    };
    if (flag(ctx, 'json')) {
      await print(ctx.io.stdout, json(conf));
      return 0;
    }
    const lines = [
      `registry: ${conf.registry ?? '(not set: pass --registry or set STRATA_REGISTRY)'} [${conf.registrySource}]`,
      `token:    ${conf.token ?? '(none)'}`,
      'environment:',
      ...Object.entries(conf.env).map(([k, v]) => `  ${k}=${v}`),
    ];
    if (Object.keys(conf.env).length === 0) lines.push('  (no STRATA_* variables)');
    await print(ctx.io.stdout, `${lines.join('\n')}\n`);
    return 0;
  },
});
