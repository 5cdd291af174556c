import { after, before, describe, test } from 'node:test';
import {
  FS_CONTRACT_CASES,
  type FsContractContext,
  type FsContractTarget,
  fsCaseContext,
  fsCaseSkipReason,
  prepareFsContract,
} from '../../src/client/contract.js';

export interface FsContractOptions {
  /**
   * Cases known to fail on this implementation: case name → one-line reason. They still run and
   * are reported as node:test todos while they fail; one that starts passing fails the test.
   */
  readonly todo?: Readonly<Record<string, string>>;
  /** Per-case deadline. Default 30 s. */
  readonly timeoutMs?: number;
}

/**
 * Registers the StrataFileSystem contract suite (src/client/contract.ts) with node:test: one
 * test per case, in a describe of its own. `open` starts the implementation; its `close` runs
 * after the suite has unmounted what it mounted.
 */
export function describeFsContract(
  label: string,
  open: () => Promise<FsContractTarget & { close?: () => Promise<void> }>,
  options: FsContractOptions = {},
): void {
  const known = new Set(FS_CONTRACT_CASES.map((c) => c.name));
  for (const name of Object.keys(options.todo ?? {})) {
    if (!known.has(name)) throw new Error(`todo names no contract case: ${JSON.stringify(name)}`);
  }
  describe(`StrataFileSystem contract: ${label}`, () => {
    let ctx: FsContractContext | undefined;
    let cleanup: () => Promise<void> = async () => undefined;
    let close: (() => Promise<void>) | undefined;
    before(async () => {
      const target = await open();
      close = target.close;
      ({ ctx, cleanup } = await prepareFsContract(target));
    });
    after(async () => {
      await cleanup();
      await close?.();
    });
    for (const c of FS_CONTRACT_CASES) {
      const todo = options.todo?.[c.name];
      test(c.name, { timeout: options.timeoutMs ?? 30_000 }, async (t) => {
        if (!ctx) throw new Error('the contract suite was not prepared');
        const skip = fsCaseSkipReason(ctx, c);
        if (skip !== undefined) {
          t.skip(skip);
          return;
        }
        if (todo === undefined) {
          await c.run(await fsCaseContext(ctx, c));
          return;
        }
        // A known failure must keep failing: one that starts passing fails the run, so the list
        // cannot silently go stale.
        try {
          await c.run(await fsCaseContext(ctx, c));
        } catch (err) {
          t.todo(`${todo} (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
          return;
        }
        throw new Error(`known failure now passes: remove it from the todo list (${todo})`);
      });
    }
  });
}
