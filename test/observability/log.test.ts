import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { loadServerConfig } from '../../src/core/config.js';
import { isStrataError } from '../../src/core/errors.js';
import {
  getLogLevel,
  log,
  logEnabled,
  logger,
  logLevelFrom,
  parseLogLevel,
  setLogLevel,
  setQuiet,
} from '../../src/core/log.js';
import {
  acceptRequestId,
  currentRequestId,
  newRequestId,
  requestTracing,
  withRequestId,
} from '../../src/core/request-context.js';

/** Captures what the logger writes to stderr while `fn` runs. */
async function captured(fn: () => unknown): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = original;
  }
  return lines
    .join('')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A field that counts how often it is serialised. */
function counting(): { value: { toJSON(): string }; count: () => number } {
  let n = 0;
  return {
    value: {
      toJSON() {
        n++;
        return 'x';
      },
    },
    count: () => n,
  };
}

describe('JSON logs: levels, request ids', () => {
  beforeEach(() => {
    setQuiet(false);
    setLogLevel('info');
  });
  afterEach(() => {
    setQuiet(false);
    setLogLevel('info');
  });

  test('one JSON object a line: time, level, event, then the fields; logger is info', async () => {
    const lines = await captured(() => {
      logger('mounts_sealed', { records: 2 });
      log.warn('w', { a: 1 });
      log.error('e');
    });
    assert.equal(lines.length, 3);
    assert.deepEqual(Object.keys(lines[0]!), ['time', 'level', 'event', 'records']);
    assert.deepEqual(
      lines.map((l) => [l.level, l.event]),
      [
        ['info', 'mounts_sealed'],
        ['warn', 'w'],
        ['error', 'e'],
      ],
    );
    // Existing tests and scripts match the event followed by its first field.
    const raw = await captured(() => logger('mounts_sealed', { records: 2 }));
    assert.match(JSON.stringify(raw[0]), /"event":"mounts_sealed","records":2/);
  });

  test('below the threshold nothing is written and fields are never serialised', async () => {
    const field = counting();
    setLogLevel('warn');
    assert.equal(logEnabled('info'), false);
    assert.equal(logEnabled('warn'), true);
    const lines = await captured(() => {
      log.debug('d', { f: field.value });
      log.info('i', { f: field.value });
      log.warn('w', { f: field.value });
    });
    assert.deepEqual(
      lines.map((l) => l.event),
      ['w'],
    );
    assert.equal(field.count(), 1, 'only the line written was serialised');
    setLogLevel('debug');
    const debug = await captured(() => log.debug('d', { f: field.value }));
    assert.equal(debug.length, 1);
    assert.equal(field.count(), 2);
  });

  test('STRATA_LOG=off (setQuiet) silences every level, errors included, whatever the level', async () => {
    setQuiet(true);
    setLogLevel('debug');
    assert.equal(logEnabled('error'), false);
    const lines = await captured(() => {
      log.error('e');
      logger('i');
    });
    assert.deepEqual(lines, []);
    setQuiet(false);
    assert.equal(getLogLevel(), 'debug', 'the level survives quiet');
    assert.equal((await captured(() => log.debug('d'))).length, 1);
  });

  test('at debug, a request id follows the work across awaits and timers into every line', async () => {
    setLogLevel('debug');
    assert.equal(requestTracing(), true);
    const lines = await captured(async () => {
      await withRequestId('REQ-1', async () => {
        await tick();
        await new Promise((ok) => setTimeout(ok, 1));
        log.debug('inner', { n: 1 });
        logger('explicit', { requestId: 'OTHER' });
      });
      log.info('outside');
    });
    assert.deepEqual(
      lines.map((l) => [l.event, l.requestId]),
      [
        ['inner', 'REQ-1'],
        ['explicit', 'OTHER'],
        ['outside', undefined],
      ],
    );
    // Two requests interleaved keep their own ids.
    const seen: Array<string | undefined> = [];
    await Promise.all(
      ['A', 'B'].map((id) =>
        withRequestId(id, async () => {
          await tick();
          seen.push(currentRequestId());
          await tick();
          seen.push(currentRequestId());
        }),
      ),
    );
    assert.deepEqual(seen.sort(), ['A', 'A', 'B', 'B']);
  });

  test('below debug, ids are not carried (no AsyncLocalStorage on the hot path)', async () => {
    setLogLevel('info');
    assert.equal(requestTracing(), false);
    const lines = await captured(() => withRequestId('REQ-2', () => logger('x')));
    assert.equal(lines[0]!.requestId, undefined);
    assert.equal(
      withRequestId('REQ-2', () => currentRequestId()),
      undefined,
    );
  });

  test('request ids: new ones are unique; incoming ones are taken only when they look like ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newRequestId()));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^[0-9A-F]{16}$/);
    assert.equal(acceptRequestId('1A2B3C4D00000001'), '1A2B3C4D00000001');
    assert.equal(acceptRequestId('abc-1.2:3_4'), 'abc-1.2:3_4');
    for (const bad of ['', 'a b', 'x\ny', '{"a":1}', 'x'.repeat(65), undefined, ['a']])
      assert.equal(acceptRequestId(bad), undefined, JSON.stringify(bad));
  });

  test('levels: parse, and flag > STRATA_LOG_LEVEL > config file > info', () => {
    assert.equal(parseLogLevel('DEBUG'), 'debug');
    assert.throws(
      () => parseLogLevel('loud'),
      (e: unknown) => isStrataError(e, 'INVALID_ARGUMENT') && /debug, info, warn, error/.test(String(e)),
    );
    assert.equal(logLevelFrom(undefined, {}), 'info');
    assert.equal(logLevelFrom(undefined, {}, 'warn'), 'warn');
    assert.equal(logLevelFrom(undefined, { STRATA_LOG_LEVEL: 'error' }, 'warn'), 'error');
    assert.equal(logLevelFrom('debug', { STRATA_LOG_LEVEL: 'error' }, 'warn'), 'debug');
    assert.throws(() => logLevelFrom(undefined, { STRATA_LOG_LEVEL: 'nope' }), /STRATA_LOG_LEVEL/);
    assert.throws(() => logLevelFrom('nope', {}), /--log-level/);
  });

  test("the daemons' configuration: logLevel from YAML < STRATA_LOG_LEVEL < --log-level", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-log-'));
    try {
      const file = join(dir, 'strata.yaml');
      await writeFile(file, 'logLevel: warn\n');
      assert.equal((await loadServerConfig({}, {})).logLevel, 'info');
      assert.equal((await loadServerConfig({}, {}, file)).logLevel, 'warn');
      assert.equal((await loadServerConfig({}, { STRATA_LOG_LEVEL: 'error' }, file)).logLevel, 'error');
      assert.equal(
        (await loadServerConfig({ logLevel: 'debug' }, { STRATA_LOG_LEVEL: 'error' }, file)).logLevel,
        'debug',
      );
      await assert.rejects(
        loadServerConfig({ logLevel: 'chatty' }, {}),
        (e: unknown) => isStrataError(e, 'INVALID_ARGUMENT') && /--log-level/.test(String(e)),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
