import { type ContractResult, runUfsContract } from '../../ufs/contract.js';
import { createUnderStore, redactUri } from '../../ufs/factory.js';
import { defineCommand, flag, keyValues, listOption, print, stringOption } from '../command.js';
import { json } from '../format.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['ufs', 'test'],
  summary: 'run the under-store contract suite against a store',
  usage: 'ufs test [--option k=v]... [--fixture-dir P] [--json] URI',
  description:
    'Checks that a store behaves as Strata needs (exact bytes, ranges, listing, errors, renames). Writable stores get a scratch directory that is removed afterwards; read-only stores (http) are checked against a fixture tree placed at --fixture-dir. Exits 1 when a case fails.',
  examples: [
    'strata ufs test file:///tmp/scratch',
    'strata ufs test s3://bucket/prefix --option endpoint=http://127.0.0.1:9000 --option pathStyle=true',
    'strata ufs test https://example.org/fixtures --fixture-dir /',
  ],
  options: {
    option: { type: 'string', multiple: true, valueName: 'k=v', help: 'connector option (repeatable)' },
    'fixture-dir': {
      type: 'string',
      valueName: 'P',
      help: 'where the fixture tree is, for read-only stores',
    },
    json: JSON_OPTION,
  },
  args: { min: 1, max: 1 },
  remote: false,
  async run(ctx) {
    const uri = ctx.positionals[0] ?? '';
    const asJson = flag(ctx, 'json');
    const store = await createUnderStore(uri, keyValues(listOption(ctx, 'option')));
    const fixtureDir = stringOption(ctx, 'fixture-dir');
    let results: ContractResult[];
    try {
      if (!asJson) await print(ctx.io.stdout, `testing ${redactUri(uri)}\n`);
      results = await runUfsContract(store, {
        ...(fixtureDir === undefined ? {} : { fixtureDir }),
        onResult: (r) => {
          if (!asJson) {
            const tail = r.status === 'pass' ? `(${Math.round(r.ms)} ms)` : `— ${r.error ?? ''}`;
            ctx.io.stdout.write(`${r.status.toUpperCase().padEnd(4)}  ${r.name} ${tail}\n`);
          }
        },
      });
    } finally {
      await store.close();
    }
    const count = (s: ContractResult['status']) => results.filter((r) => r.status === s).length;
    const summary = {
      uri: redactUri(uri),
      pass: count('pass'),
      fail: count('fail'),
      skip: count('skip'),
      results,
    };
    await print(
      ctx.io.stdout,
      asJson ? json(summary) : `${summary.pass} passed, ${summary.fail} failed, ${summary.skip} skipped\n`,
    );
    return summary.fail === 0 ? 0 : 1;
  },
});
