import { readFile } from 'node:fs/promises';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { connect } from '../client/connect.js';
import { JobsClient } from '../client/jobs-client.js';
import type { StrataFileSystem } from '../client/types.js';
import { ERROR_TABLE, StrataError, toStrataError } from '../core/errors.js';
import { loadClientCa, useCaFile } from '../core/tls-options.js';
import { type CommandContext, type CommandSpec, type Io, UsageError } from './command.js';
import { COMMANDS, findCommand } from './commands/index.js';
import { commandHelp, mainHelp } from './help.js';

/**
 * `strata` entry point: finds the subcommand, parses its flags strictly, connects lazily, runs it,
 * and turns errors into `strata: CODE: message` and the table's exit code (usage errors: 64).
 */

export const EXIT_USAGE = 64;

/** Flags every remote command takes, before or after the command words. */
const GLOBAL_OPTIONS = {
  registry: { type: 'string' },
  'token-file': { type: 'string' },
  'ca-file': { type: 'string' },
  help: { type: 'boolean' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** Global flags that take a value (`--registry URI`, `--token-file FILE`). */
const VALUE_FLAGS = ['--registry', '--token-file', '--ca-file'];

/**
 * A long-running role (`strata local`, `worker`, `gateway s3`, `fuse …`). The CLI only dispatches
 * to them: they live in higher layers (src/server, src/gateway, src/fuse), and the composition
 * root (src/server/main.ts, what bin/strata.js runs) hands them in, so the CLI imports none.
 */
export interface DaemonEntry {
  /** The command words that select it, e.g. ['gateway', 's3']. */
  readonly words: readonly string[];
  /** `leading`: global flags given before the words; `args`: everything after them. */
  run(leading: string[], args: string[]): Promise<number>;
}

export async function main(
  argv: string[],
  io: Io = defaultIo(),
  daemons: readonly DaemonEntry[] = [],
): Promise<number> {
  ignoreEpipe(io);
  let closeFs: (() => Promise<void>) | undefined;
  let closeJobs: (() => Promise<void>) | undefined;
  let command: CommandSpec | undefined;
  try {
    const { leading, rest } = splitLeadingFlags(argv);
    const first = rest[0];
    if (leading.includes('--version') || first === '--version' || first === 'version') {
      io.stdout.write(`strata ${await version()}\n`);
      return 0;
    }
    if (first === undefined) {
      const wantsHelp = leading.some((f) => f === '--help' || f === '-h');
      (wantsHelp ? io.stdout : io.stderr).write(mainHelp(COMMANDS));
      return wantsHelp ? 0 : EXIT_USAGE;
    }
    const daemon = daemons.find((d) => d.words.every((w, i) => rest[i] === w));
    if (daemon) return await daemon.run(leading, rest.slice(daemon.words.length));
    if (first === 'help') {
      const target = findCommand(rest.slice(1));
      if (rest.length > 1 && !target.command)
        throw new UsageError(`unknown command "${rest.slice(1).join(' ')}"`);
      io.stdout.write(target.command ? commandHelp(target.command) : mainHelp(COMMANDS));
      return 0;
    }
    const found = findCommand(rest);
    if (!found.command) {
      if (found.group && (rest.length === 1 || rest.includes('--help') || rest.includes('-h'))) {
        io.stdout.write(mainHelp(COMMANDS, found.group));
        return rest.length === 1 ? EXIT_USAGE : 0;
      }
      throw new UsageError(`unknown command "${rest.slice(0, 2).join(' ')}" (see "strata help")`);
    }
    command = found.command;
    const parsed = parseCommandArgs(command, [...leading, ...rest.slice(command.words.length)]);
    if (parsed.values.help === true) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    const n = parsed.positionals.length;
    if (n < command.args.min) throw new UsageError('missing argument', command);
    if (n > command.args.max)
      throw new UsageError(`unexpected argument "${parsed.positionals[command.args.max]}"`, command);

    const env = process.env;
    const flagRegistry = typeof parsed.values.registry === 'string' ? parsed.values.registry : undefined;
    const registry =
      flagRegistry !== undefined
        ? { uri: flagRegistry, source: 'flag' as const }
        : env.STRATA_REGISTRY
          ? { uri: env.STRATA_REGISTRY, source: 'env' as const }
          : { uri: undefined, source: 'unset' as const };
    const tokenFile =
      typeof parsed.values['token-file'] === 'string' ? parsed.values['token-file'] : undefined;
    // --ca-file, else STRATA_CA_FILE: trusted by every transport of this command (https, etcds).
    const caFile = typeof parsed.values['ca-file'] === 'string' ? parsed.values['ca-file'] : undefined;
    if (caFile !== undefined) await useCaFile(caFile, '--ca-file');
    else await loadClientCa(env);
    let fsPromise: Promise<StrataFileSystem> | undefined;
    let jobs: JobsClient | undefined;
    const noRegistry = () =>
      new UsageError(
        'no registry given: pass --registry http://HOST:PORT or set STRATA_REGISTRY (use the addresses.registry value printed by "strata local")',
      );
    const ctx: CommandContext = {
      positionals: parsed.positionals,
      values: parsed.values as CommandContext['values'],
      io,
      env,
      registry,
      ...(tokenFile === undefined ? {} : { tokenFile }),
      jobs: () => {
        if (registry.uri === undefined) throw noRegistry();
        // http://… of "strata local", or etcd://… (the cluster's leading scheduler, found there).
        if (jobs === undefined) {
          const client = new JobsClient(registry.uri, tokenFile === undefined ? {} : { tokenFile });
          jobs = client;
          closeJobs = () => client.close();
        }
        return jobs;
      },
      fs: () => {
        fsPromise ??= (async () => {
          if (registry.uri === undefined) {
            throw new UsageError(
              'no registry given: pass --registry http://HOST:PORT or set STRATA_REGISTRY (use the addresses.registry value printed by "strata local")',
            );
          }
          // The token: --token-file, STRATA_TOKEN, STRATA_TOKEN_FILE, or the one a local
          // `strata local` published (connect() looks, src/client/discovery.ts).
          const fs = await connect(registry.uri, tokenFile === undefined ? {} : { tokenFile });
          closeFs = () => fs.close();
          return fs;
        })();
        return fsPromise;
      },
    };
    return (await command.run(ctx)) ?? 0;
  } catch (err) {
    return reportError(io, err, command);
  } finally {
    await closeFs?.().catch(() => undefined);
    await closeJobs?.().catch(() => undefined);
  }
}

function reportError(io: Io, err: unknown, command: CommandSpec | undefined): number {
  if (err instanceof UsageError) {
    io.stderr.write(`strata: ${err.message}\n`);
    const c = err.command ?? command;
    io.stderr.write(
      c ? `usage: strata ${c.usage}\n(see "strata help ${c.words.join(' ')}")\n` : 'see "strata help"\n',
    );
    return EXIT_USAGE;
  }
  // Flag mistakes inside the daemons' own parseArgs are usage errors too.
  const nodeCode = (err as { code?: unknown } | null)?.code;
  if (typeof nodeCode === 'string' && nodeCode.startsWith('ERR_PARSE_ARGS')) {
    io.stderr.write(`strata: ${(err as Error).message.split('\n')[0]}\n`);
    return EXIT_USAGE;
  }
  const e = err instanceof StrataError ? err : toStrataError(err);
  io.stderr.write(`strata: ${e.code}: ${e.message}\n`);
  if (e.code === 'INTERNAL' && process.env.STRATA_DEBUG && err instanceof Error)
    io.stderr.write(`${err.stack}\n`);
  return ERROR_TABLE[e.code].exit;
}

function parseCommandArgs(command: CommandSpec, args: string[]) {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  const ownShort = new Set(Object.values(command.options).map((o) => o.short));
  for (const [name, o] of Object.entries(command.options)) {
    options[name] = {
      type: o.type,
      ...(o.short === undefined ? {} : { short: o.short }),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  options.help = ownShort.has('h') ? { type: 'boolean' } : { type: 'boolean', short: 'h' };
  if (command.remote) {
    options.registry = GLOBAL_OPTIONS.registry;
    options['token-file'] = GLOBAL_OPTIONS['token-file'];
    options['ca-file'] = GLOBAL_OPTIONS['ca-file'];
  }
  try {
    // A leading "-" value (stdin) is a positional; "--" ends the flags.
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(
      err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err),
      command,
    );
  }
}

/**
 * Flags before the command words: only global ones are allowed there
 * (`strata --registry URI fs ls /`).
 */
function splitLeadingFlags(argv: readonly string[]): { leading: string[]; rest: string[] } {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i] ?? '';
    if (!a.startsWith('-') || a === '-') break;
    if (VALUE_FLAGS.includes(a)) {
      const value = argv[i + 1];
      if (value === undefined) throw new UsageError(`${a} needs a value`);
      leading.push(a, value);
      i += 2;
      continue;
    }
    if (VALUE_FLAGS.some((f) => a.startsWith(`${f}=`)) || a === '--help' || a === '-h' || a === '--version') {
      leading.push(a);
      i++;
      continue;
    }
    throw new UsageError(`unknown option "${a}" before the command`);
  }
  return { leading, rest: argv.slice(i) };
}

async function version(): Promise<string> {
  // dist/src/cli/main.js → package.json three levels up.
  const text = await readFile(new URL('../../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

function defaultIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
}

/** `strata fs cat big | head`: a closed pipe ends the output quietly instead of crashing. */
function ignoreEpipe(io: Io): void {
  if (io.stdout.listenerCount('error') > 0) return;
  io.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw new StrataError('INTERNAL', `stdout: ${err.message}`, { cause: err });
  });
}
