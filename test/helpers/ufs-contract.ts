import { after, before, describe, test } from 'node:test';
import {
  CONTRACT_CASES,
  type ContractContext,
  caseApplies,
  prepareContract,
} from '../../src/ufs/contract.js';
import type { UnderStore } from '../../src/ufs/under-store.js';

/**
 * Registers the under-store contract suite with node:test. `open` returns a connected store; for
 * read-only stores pass the fixture directory the test prepared.
 */
export function describeUfsContract(
  label: string,
  open: () => Promise<{ store: UnderStore; fixtureDir?: string; close?: () => Promise<void> }>,
): void {
  describe(`under-store contract: ${label}`, () => {
    let ctx: ContractContext;
    let store: UnderStore;
    let cleanup: () => Promise<void> = async () => undefined;
    let close: (() => Promise<void>) | undefined;
    let hasFixtures = false;
    before(async () => {
      const opened = await open();
      store = opened.store;
      close = opened.close;
      hasFixtures = store.capabilities.writable || opened.fixtureDir !== undefined;
      const prepared = await prepareContract(
        store,
        opened.fixtureDir === undefined ? {} : { fixtureDir: opened.fixtureDir },
      );
      ctx = prepared.ctx;
      cleanup = prepared.cleanup;
    });
    after(async () => {
      await cleanup();
      await store?.close();
      await close?.();
    });
    for (const c of CONTRACT_CASES) {
      test(c.name, async (t) => {
        const skip = caseApplies(store, c, hasFixtures);
        if (skip) {
          t.skip(skip);
          return;
        }
        await c.run(ctx);
      });
    }
  });
}
