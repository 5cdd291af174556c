import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { judge } from '../../bench/fuzz/oracle.js';
import { parseResponses } from '../../bench/fuzz/raw-http.js';
import { runFuzz } from '../../bench/fuzz/run.js';
import { type FuzzTarget, startTarget } from '../../bench/fuzz/target.js';

/**
 * The short fuzz run (the long one is `npm run fuzz -- --requests 100000`): seeded requests to a
 * real `strata local` over real sockets — S3 (methods, headers incl. oversize, percent-encoding,
 * query parameters, XML bombs, chunked and aws-chunked framing, SigV4 fields, ranges), the worker
 * RPC with the token, the admin API. STRATA_FUZZ_SEED / STRATA_FUZZ_REQUESTS change the run.
 */

const SEED = Number(process.env.STRATA_FUZZ_SEED ?? 20261202);
const REQUESTS = Number(process.env.STRATA_FUZZ_REQUESTS ?? 3000);
/** Growth of the resident set over the run the oracle allows (the cache itself is 256 MiB of memory tier). */
const RSS_GROWTH_LIMIT = 400 * 1024 * 1024;

describe('fuzz oracle', () => {
  const res = (text: string) => parseResponses(Buffer.from(text, 'latin1'), false);
  test('a 500, a bad error body, a table mismatch and a malformed answer are violations', () => {
    const s3 = (status: number, body: string) =>
      judge(
        's3',
        {
          ...res(
            `HTTP/1.1 ${status} X\r\nx-amz-request-id: 1\r\ncontent-type: application/xml\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
          ),
          hung: false,
        },
        { head: false, complete: true },
      );
    assert.match(s3(500, '<Error><Code>InternalError</Code></Error>').violation ?? '', /500 InternalError/);
    assert.match(s3(503, '<Error><Code>ServiceUnavailable</Code></Error>').violation ?? '', /503/);
    assert.equal(s3(503, '<Error><Code>SlowDown</Code></Error>').violation, undefined);
    assert.match(s3(404, '<Error><Code>AccessDenied</Code></Error>').violation ?? '', /table says 403/);
    assert.match(s3(400, 'oops').violation ?? '', /not an S3 error/);
    assert.match(
      judge(
        's3',
        { ...res('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab'), hung: false },
        { head: false, complete: true },
      ).violation ?? '',
      /malformed|request-id/,
    );
    assert.match(
      judge('port', { responses: [], hung: true }, { head: false, complete: true }).violation ?? '',
      /no answer/,
    );
    assert.equal(
      judge('port', { responses: [], hung: false }, { head: false, complete: false }).violation,
      undefined,
    );
    const body = '{"error":{"code":"INTERNAL","message":"x"}}';
    const port = judge(
      'port',
      {
        ...res(
          `HTTP/1.1 500 X\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        ),
        hung: false,
      },
      { head: false, complete: true },
    );
    assert.match(port.violation ?? '', /500 INTERNAL/);
  });
});

describe(`fuzz: ${REQUESTS} requests, seed ${SEED}`, () => {
  let target: FuzzTarget;
  before(async () => {
    target = await startTarget();
  });
  after(async () => {
    await target?.stop();
  });

  test('no crash, no 5xx where a 4xx is right, well-formed answers, bounded RSS', async () => {
    const report = await runFuzz(target, { requests: REQUESTS, seed: SEED, concurrency: 6 });
    const replay = `seed ${SEED} (replay: npm run fuzz -- --seed ${SEED} --only BATCH:INDEX)`;
    const summary = JSON.stringify({ ...report, violations: report.violations.slice(0, 10) }, null, 1);
    process.stdout.write(
      `# fuzz: ${report.requests} requests in ${report.seconds.toFixed(1)} s (${report.requestsPerSecond.toFixed(0)}/s), RSS ${mib(report.rssStartBytes)} → peak ${mib(report.rssPeakBytes)} MiB\n`,
    );
    assert.equal(
      report.crashed,
      false,
      `strata local died or stopped answering /healthz; ${replay}\n${target.stderr().slice(-3000)}`,
    );
    assert.ok(target.alive());
    assert.equal(report.requests, REQUESTS);
    assert.deepEqual(report.violations, [], `${replay}\n${summary}`);
    assert.ok(
      report.rssPeakBytes - report.rssStartBytes < RSS_GROWTH_LIMIT,
      `RSS grew past the bound: ${summary}`,
    );
    // The run reached the handlers, not only the parser and the signature check.
    const count = (re: RegExp) =>
      Object.entries(report.statuses).reduce((n, [k, v]) => (re.test(k) ? n + v : n), 0);
    assert.ok(count(/^s3 2\d\d/) > REQUESTS / 100, `too few S3 successes: ${summary}`);
    assert.ok(count(/^s3 4\d\d (NoSuchKey|MalformedXML|InvalidArgument|InvalidRange)/) > 0, summary);
    assert.ok(count(/^port 2\d\d/) > REQUESTS / 100, `too few RPC successes: ${summary}`);
  });
});

function mib(n: number): string {
  return (n / 1024 / 1024).toFixed(0);
}
