import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyFilter } from '../../src/meta/key-filter.js';

test('a key filter never says "absent" for an added key, says "maybe" for all until ready, and rarely errs the other way', () => {
  const f = new KeyFilter();
  assert.equal(f.mightHave('a/x'), true, 'not ready: maybe');
  for (let i = 0; i < 200_000; i++) f.add(`a/data/dir${i % 97}/file-${i}`);
  f.markReady();
  for (let i = 0; i < 200_000; i++) assert.equal(f.mightHave(`a/data/dir${i % 97}/file-${i}`), true);
  let wrong = 0;
  for (let i = 0; i < 100_000; i++) if (f.mightHave(`a/other/dir${i % 89}/file-${i}`)) wrong++;
  // 200k keys in 8 M bits with 3 hashes: ~0.03 % expected; 0.5 % leaves room for a bad hash.
  assert.ok(wrong < 500, `${wrong} false positives in 100,000`);
  assert.equal(f.added, 200_000);
});
