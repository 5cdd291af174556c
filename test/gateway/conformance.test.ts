import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ACCESS_KEY, type Harness, run, SECRET_KEY, startHarness } from './harness.js';

/**
 * S3 conformance: test/gateway/conformance.py (Debian's python3-boto3) runs ~100 small checks
 * of core S3 behaviour against a real gateway and prints one JSON line per check. Each check is
 * reported here as its own subtest; checks marked `known` are behaviour the gateway knowingly
 * does not support (docs/s3-gateway.md, "Not implemented") and are reported as todo.
 */

const SCRIPT = fileURLToPath(new URL('../../../test/gateway/conformance.py', import.meta.url));

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

  test('every supported check passes', async (t) => {
    for (const r of results) {
      await t.test(r.name, { todo: r.known ? 'known limitation (docs/s3-gateway.md)' : false }, () => {
        assert.ok(r.ok, r.detail);
      });
    }
    const failed = results.filter((r) => !r.ok && !r.known);
    assert.deepEqual(
      failed.map((r) => `${r.name}: ${r.detail}`),
      [],
    );
  });
});
