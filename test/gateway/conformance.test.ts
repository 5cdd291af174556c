import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ACCESS_KEY, type Harness, run, SECRET_KEY, startHarness } from './harness.js';

/**
 * S3 conformance: test/gateway/conformance.py (Debian's python3-boto3) runs ~100 small checks
 * of core S3 behaviour against a real gateway and prints one JSON line per check. Each check is
 * reported here as its own subtest; checks marked `known` are behaviour the gateway knowingly
 * does not support (docs/s3-gateway.md, "Not implemented") and are reported as todo while they
 * fail. A known check that passes fails this test ("now passes: remove it from the known list"),
 * so the list cannot silently go stale.
 */

const SCRIPT = fileURLToPath(new URL('../../../test/gateway/conformance.py', import.meta.url));

function nowPasses(r: CheckResult): string {
  return `${r.name}: now passes: remove it from the known list (known=True in test/gateway/conformance.py, and docs/s3-gateway.md)`;
}

interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly known: boolean;
  readonly ms: number;
}

describe('S3 conformance (boto3)', () => {
  let h: Harness;
  let results: CheckResult[] = [];
  let stderr = '';
  before(async () => {
    h = await startHarness();
    const args = [SCRIPT, h.url, ACCESS_KEY, SECRET_KEY];
    if (process.env.CONFORMANCE_FILTER) args.push(process.env.CONFORMANCE_FILTER);
    // CONFORMANCE_PYTHON: another interpreter (and so another boto3) to run the same checks with.
    const python = process.env.CONFORMANCE_PYTHON ?? '/usr/bin/python3';
    const r = await run(python, args, h.env, undefined, 300_000);
    stderr = r.stderr;
    results = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as CheckResult);
  });
  after(async () => {
    await h?.stop();
  });

  test('the script ran and reported its checks', () => {
    assert.ok(results.length > 0, `no results; stderr: ${stderr}`);
  });

  test('every supported check passes, and no known-failing one does', async (t) => {
    for (const r of results) {
      if (!r.known) {
        await t.test(r.name, () => {
          assert.ok(r.ok, r.detail);
        });
        continue;
      }
      // A known limitation that fails is a todo; one that passes is news the list must hear.
      await t.test(r.name, { todo: r.ok ? false : 'known limitation (docs/s3-gateway.md)' }, () => {
        assert.ok(!r.ok, nowPasses(r));
        assert.fail(r.detail);
      });
    }
    const unexpected = results.filter((r) => r.ok === r.known);
    assert.deepEqual(
      unexpected.map((r) => (r.known ? nowPasses(r) : `${r.name}: ${r.detail}`)),
      [],
    );
  });
});
