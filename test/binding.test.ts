/** The typed native boundary: the loaded addon's op table matches src/tensor/binding.ts, and a mismatch is refused by name. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkBinding, NATIVE_OPS } from '../src/tensor/binding';
import { native } from '../src/tensor/native';

test('the addon exports exactly the ops of NativeBinding', () => {
  const table = native as unknown as Record<string, unknown>;
  assert.deepEqual(Object.keys(table).sort(), [...NATIVE_OPS].sort());
});

test('checkBinding names a missing op and an undeclared op', () => {
  const table: Record<string, unknown> = Object.fromEntries(NATIVE_OPS.map((k) => [k, () => 0]));
  delete table.conv2d;
  table.conv3d = () => 0;
  assert.throws(() => checkBinding(table, 'x.node'), /the native engine 'x\.node' does not match this version's op table; missing: conv2d; not declared in src\/tensor\/binding\.ts: conv3d\. Rebuild it/);
  table.conv2d = 'not a function';
  delete table.conv3d;
  assert.throws(() => checkBinding(table, 'x.node'), /missing: conv2d/);
});
