import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import { parseSeeds } from '../src/cli/cmd-study';

test('--seeds: a count, a list, or one seed with a trailing comma; anything else is refused', () => {
  assert.deepEqual(parseSeeds('3'), [0, 1, 2]);
  assert.deepEqual(parseSeeds('2,3'), [2, 3]);
  assert.deepEqual(parseSeeds('0, 3, 7'), [0, 3, 7]);
  assert.deepEqual(parseSeeds('1,'), [1]);
  for (const bad of ['0', ',', '1,,2', 'a', '1,a', '-1,2', '1.5,2']) assert.throws(() => parseSeeds(bad), InvalidArgumentError, bad);
});
