import { describe, test } from 'node:test';

/** What a store contract case opens: disposed when the case ends, pass or fail. */
export interface Disposable {
  dispose(): Promise<void>;
}

/**
 * Registers a store contract suite with node:test: one test per case, skipped with the reason
 * when the subject lacks what the case needs. `context(track)` builds a case's context; every
 * store it hands to `track` is disposed after the case.
 */
export function describeDisposingContract<Case extends { name: string; run(ctx: Ctx): Promise<void> }, Ctx>(
  title: string,
  cases: readonly Case[],
  skip: (c: Case) => string | undefined,
  context: (track: <T extends Disposable>(store: T) => T) => Ctx,
): void {
  describe(title, () => {
    for (const c of cases) {
      test(c.name, async (t) => {
        const reason = skip(c);
        if (reason) {
          t.skip(reason);
          return;
        }
        const opened: Disposable[] = [];
        try {
          await c.run(
            context((store) => {
              opened.push(store);
              return store;
            }),
          );
        } finally {
          for (const o of opened) await o.dispose();
        }
      });
    }
  });
}
