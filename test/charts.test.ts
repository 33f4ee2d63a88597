import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineChartSvg, boxOrStripChartSvg, scatterSvg } from '../src/study/charts';
import { DfkdError } from '../src/errors';

function count(s: string, needle: string): number {
  return s.split(needle).length - 1;
}

test('lineChartSvg renders an SVG with title, axis titles and one line per series', async () => {
  const svg = await lineChartSvg({
    title: 'Student accuracy',
    xLabel: 'epoch',
    yLabel: 'accuracy',
    series: [
      { name: 'ta-dfkd', x: [0, 1, 2, 3], y: [0.1, 0.5, 0.7, 0.8] },
      { name: 'dafl', x: [0, 1, 2, 3], y: [0.1, 0.3, NaN, 0.6] },
    ],
  });
  assert.ok(svg.startsWith('<svg'), svg.slice(0, 40));
  assert.ok(svg.includes('Student accuracy'));
  assert.ok(svg.includes('epoch') && svg.includes('accuracy'));
  assert.ok(svg.includes('ta-dfkd') && svg.includes('dafl'), 'legend entries');
  assert.ok(count(svg, 'class="mark-line role-mark') >= 1, 'line marks');
  assert.ok(count(svg, 'class="mark-symbol role-mark') >= 1, 'point marks on the lines');
  assert.ok(svg.trimEnd().endsWith('</svg>'));
});

test('boxOrStripChartSvg renders points, min-max rules and mean ticks per group', async () => {
  const svg = await boxOrStripChartSvg({
    title: 'Accuracy over teachers',
    yLabel: 'student accuracy',
    groups: [
      { name: 'ta-dfkd', values: [0.81, 0.84, 0.79, 0.83, 0.8] },
      { name: 'dafl', values: [0.7, 0.75, 0.72] },
    ],
  });
  assert.ok(svg.startsWith('<svg'));
  assert.ok(svg.includes('Accuracy over teachers'));
  assert.ok(svg.includes('student accuracy'));
  assert.ok(svg.includes('ta-dfkd') && svg.includes('dafl'));
  assert.ok(svg.includes('class="mark-rule role-mark'), 'min-max rule marks');
  assert.ok(svg.includes('class="mark-symbol role-mark'), 'point marks');
  assert.ok(svg.includes('class="mark-rect role-mark'), 'mean tick marks (ticks render as rects)');
});

test('scatterSvg renders points and labels', async () => {
  const svg = await scatterSvg({
    title: 'Teacher vs student',
    xLabel: 'teacher accuracy',
    yLabel: 'student accuracy',
    points: [
      { x: 0.99, y: 0.95, label: 'T1', group: 'lenet5' },
      { x: 0.98, y: 0.9, label: 'T2', group: 'lenet5' },
      { x: 0.97, y: 0.85, group: 'mlp' },
      { x: Infinity, y: 0.5, label: 'dropped' },
    ],
  });
  assert.ok(svg.startsWith('<svg'));
  assert.ok(svg.includes('Teacher vs student'));
  assert.ok(svg.includes('teacher accuracy'));
  assert.ok(svg.includes('>T1<') && svg.includes('>T2<'));
  assert.ok(!svg.includes('dropped'));
  assert.ok(svg.includes('class="mark-symbol role-mark') && svg.includes('class="mark-text role-mark'));
});

test('charts escape the title and reject inconsistent series', async () => {
  const svg = await scatterSvg({ title: 'a < b & c', xLabel: 'x', yLabel: 'y', points: [] });
  assert.ok(svg.startsWith('<svg'));
  assert.ok(svg.includes('a &lt; b &amp; c'));
  await assert.rejects(
    lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [1, 2], y: [1] }] }),
    DfkdError,
  );
});
