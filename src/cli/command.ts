import type { Readable, Writable } from 'node:stream';
import type { JobsClient } from '../client/jobs-client.js';
import type { StrataFileSystem } from '../client/types.js';
import { StrataError } from '../core/errors.js';

/**
 * What every `strata` subcommand declares: its words, usage, options (parsed strictly with
 * node:util parseArgs), how many positionals it takes, help with examples, and `run`.
 */

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Shown in help, e.g. "--write-type T". */
  readonly valueName?: string;
  readonly help: string;
}

export interface CommandSpec {
  /** Command words, e.g. ['fs', 'ls']. */
  readonly words: readonly string[];
  readonly summary: string;
  /** Everything after "strata", e.g. "fs ls [-R] [--json] [PATH]". */
  readonly usage: string;
  readonly description?: string;
  readonly examples: readonly string[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly args: { readonly min: number; readonly max: number };
  /** Whether it talks to a cluster (takes --registry). */
  readonly remote: boolean;
  run(ctx: CommandContext): Promise<number | undefined>;
}

export interface Io {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
}

export interface CommandContext {
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly io: Io;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The registry URI from --registry or STRATA_REGISTRY, and where it came from. */
  readonly registry: { readonly uri: string | undefined; readonly source: 'flag' | 'env' | 'unset' };
  /** The --token-file flag, when given. */
  readonly tokenFile?: string;
  /** Connects on first use (closed by main when the command ends). */
  fs(): Promise<StrataFileSystem>;
  /**
   * The jobs API (src/client/jobs-client.ts): of the registry's `strata local` (http://…), or of a
   * cluster's leading scheduler (etcd://…). Closed by main when the command ends.
   */
  jobs(): JobsClient;
}

/** A mistake in how the command was typed: printed with the usage, exit 64. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly command?: CommandSpec,
  ) {
    super(message);
  }
}

export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}

export function flag(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true;
}

export function stringOption(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function listOption(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name];
  if (Array.isArray(v)) return v;
  return typeof v === 'string' ? [v] : [];
}

export function arg(ctx: CommandContext, i: number): string {
  const v = ctx.positionals[i];
  if (v === undefined) throw new StrataError('INVALID_ARGUMENT', `missing argument ${i + 1}`);
  return v;
}

/** Validates a value against a fixed list, naming the allowed ones. */
export function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  what: string,
): T | undefined {
  if (value === undefined) return undefined;
  const upper = value.toUpperCase();
  const found = allowed.find((a) => a === upper || a === value);
  if (!found) {
    throw new StrataError('INVALID_ARGUMENT', `${what} must be one of ${allowed.join(', ')}; got "${value}"`);
  }
  return found;
}

/** "k=v" pairs from repeated --option flags. */
export function keyValues(pairs: readonly string[], what = '--option'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new StrataError('INVALID_ARGUMENT', `${what} takes key=value, got "${pair}"`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/** Writes text and waits for it to drain (large listings into a slow pipe). */
export async function print(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
}
