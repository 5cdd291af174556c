import type { CommandSpec } from './command.js';

/** Help texts: the overview (optionally one group) and one command's page. */

export function mainHelp(commands: readonly CommandSpec[], group?: string): string {
  const shown = group === undefined ? commands : commands.filter((c) => c.words[0] === group);
  const width = Math.max(...shown.map((c) => c.words.join(' ').length), 'local'.length) + 2;
  const lines = ['usage: strata [--registry URI] [--token-file FILE] <command> [options] [args]', ''];
  if (group === undefined) {
    lines.push(
      'Daemons:',
      `  ${'local'.padEnd(width)}run the whole system in one process (see "strata local --help")`,
      `  ${'worker'.padEnd(width)}run a cluster worker registered in etcd (see "strata worker --help")`,
      `  ${'scheduler'.padEnd(width)}run a cluster job scheduler, leader-elected in etcd (see "strata scheduler --help")`,
      `  ${'gateway s3'.padEnd(width)}serve the namespace over the S3 API (see "strata gateway s3 --help")`,
      `  ${'fuse mount'.padEnd(width)}mount the namespace as a POSIX file system (see "strata fuse --help")`,
      '',
    );
  }
  lines.push('Commands:');
  for (const c of shown) lines.push(`  ${c.words.join(' ').padEnd(width)}${c.summary}`);
  lines.push(
    '',
    'Global options:',
    '  --registry URI     where the cluster is (http://host:port of "strata local"); default $STRATA_REGISTRY',
    '  --token-file FILE  the bearer token (e.g. <data dir>/token of "strata local" on another machine);',
    '                     on the machine of "strata local" it is found by itself',
    '  --ca-file FILE     PEM CAs to trust for https:// and etcds:// (besides NODE_EXTRA_CA_CERTS);',
    '                     default $STRATA_CA_FILE',
    '  --help, -h         help for a command     --version   print the version',
    '',
    'Environment: STRATA_REGISTRY, STRATA_TOKEN (the bearer token), STRATA_TOKEN_FILE (a file holding it),',
    '  STRATA_CA_FILE (CAs to trust), NODE_EXTRA_CA_CERTS (read by Node itself).',
    'Exit codes: 0 ok, 64 usage, 2 not found, 3 conflict, 69 unavailable, 70 internal, 75 retry, 77 denied.',
    'Run "strata help <command>" for its options and examples.',
    '',
  );
  return lines.join('\n');
}

export function commandHelp(c: CommandSpec): string {
  const lines = [
    `usage: strata ${c.usage}`,
    '',
    c.summary.charAt(0).toUpperCase() + c.summary.slice(1) + '.',
  ];
  if (c.description) lines.push('', c.description);
  const opts = Object.entries(c.options).map(([name, o]) => {
    const short = o.short ? `-${o.short}, ` : '    ';
    return [`  ${short}--${name}${o.valueName ? ` ${o.valueName}` : ''}`, o.help] as const;
  });
  if (c.remote) {
    opts.push(['      --registry URI', 'registry address (default $STRATA_REGISTRY)']);
    opts.push([
      '      --token-file FILE',
      'bearer token file (default: STRATA_TOKEN, or found beside a local "strata local")',
    ]);
    opts.push([
      '      --ca-file FILE',
      'PEM CAs trusted for https:// and etcds:// (default $STRATA_CA_FILE)',
    ]);
  }
  const h = Object.values(c.options).some((o) => o.short === 'h');
  opts.push([h ? '      --help' : '  -h, --help', 'show this help']);
  const width = Math.max(...opts.map(([l]) => l.length)) + 2;
  lines.push('', 'Options:', ...opts.map(([l, text]) => `${l.padEnd(width)}${text}`));
  lines.push('', 'Examples:', ...c.examples.map((e) => `  ${e}`), '');
  return lines.join('\n');
}
