/**
 * Study charts: Vega-Lite specs compiled and rendered headlessly to SVG
 * strings by Vega (renderer 'none', no canvas or browser needed).
 *
 * vega@5 / vega-lite@5 are used because they ship CommonJS builds (vega 6 and
 * vega-lite 6 are ESM-only). They are loaded lazily on the first chart, so
 * importing this module costs nothing until a chart is drawn.
 *
 * Non-finite numbers are dropped from the chart data (Vega cannot place them).
 */
import type { TopLevelSpec } from 'vega-lite';
import { DfkdError } from '../errors';

/** Common size options (pixels of the plotting area). */
export interface ChartSize {
  width?: number;
  height?: number;
}

/** One line of {@link lineChartSvg}. */
export interface LineSeries {
  name: string;
  x: number[];
  y: number[];
}

/** Input of {@link lineChartSvg}. */
export interface LineChartInput extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
}

/** One group (e.g. a method, one value per teacher) of {@link boxOrStripChartSvg}. */
export interface SpreadGroup {
  name: string;
  values: number[];
}

/** Input of {@link boxOrStripChartSvg}. */
export interface SpreadChartInput extends ChartSize {
  title: string;
  yLabel: string;
  groups: SpreadGroup[];
}

/** One point of {@link scatterSvg}. */
export interface ScatterPoint {
  x: number;
  y: number;
  /** Text drawn next to the point. */
  label?: string;
  /** Colour group. */
  group?: string;
}

/** Input of {@link scatterSvg}. */
export interface ScatterInput extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  points: ScatterPoint[];
}

const DEFAULT_WIDTH = 400;
const DEFAULT_HEIGHT = 250;

function size(s: ChartSize): { width: number; height: number } {
  const width = s.width ?? DEFAULT_WIDTH;
  const height = s.height ?? DEFAULT_HEIGHT;
  if (!(Number.isFinite(width) && width > 0 && Number.isFinite(height) && height > 0)) {
    throw new DfkdError(`chart: width and height must be positive numbers, got ${width}x${height}`, 'ECHART_INPUT');
  }
  return { width, height };
}

/** Compile a Vega-Lite spec and render it to an SVG string (headless). */
export async function renderVegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/**
 * Multi-series line chart (with points), one colour per series, e.g. student
 * accuracy or selection rate against epochs.
 */
export async function lineChartSvg(input: LineChartInput): Promise<string> {
  const values: { series: string; x: number; y: number }[] = [];
  for (const s of input.series) {
    if (s.x.length !== s.y.length) {
      throw new DfkdError(`lineChartSvg: series '${s.name}' has ${s.x.length} x and ${s.y.length} y values`, 'ECHART_INPUT');
    }
    for (let i = 0; i < s.x.length; i++) {
      if (Number.isFinite(s.x[i]) && Number.isFinite(s.y[i])) values.push({ series: s.name, x: s.x[i], y: s.y[i] });
    }
  }
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    title: input.title,
    ...size(input),
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: input.xLabel },
      y: { field: 'y', type: 'quantitative', title: input.yLabel, scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, sort: input.series.map((s) => s.name) },
    },
  };
  return renderVegaLiteSvg(spec);
}

/**
 * Per-group spread plot: one point per value (e.g. per teacher), a vertical
 * rule from the minimum to the maximum and a black tick at the mean. Groups
 * keep their input order on the x axis.
 */
export async function boxOrStripChartSvg(input: SpreadChartInput): Promise<string> {
  const values: { group: string; value: number }[] = [];
  for (const g of input.groups) {
    for (const v of g.values) if (Number.isFinite(v)) values.push({ group: g.name, value: v });
  }
  const order = input.groups.map((g) => g.name);
  const x = { field: 'group', type: 'nominal' as const, title: null, sort: order };
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    title: input.title,
    ...size(input),
    data: { values },
    layer: [
      {
        mark: { type: 'rule', color: 'gray' },
        encoding: {
          x,
          y: { aggregate: 'min', field: 'value', type: 'quantitative', title: input.yLabel, scale: { zero: false } },
          y2: { aggregate: 'max', field: 'value' },
        },
      },
      {
        mark: { type: 'point', filled: true, size: 50, opacity: 0.75 },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: input.yLabel },
          color: { field: 'group', type: 'nominal', legend: null, sort: order },
        },
      },
      {
        mark: { type: 'tick', color: 'black', thickness: 2, size: 24 },
        encoding: {
          x,
          y: { aggregate: 'mean', field: 'value', type: 'quantitative', title: input.yLabel },
        },
      },
    ],
  };
  return renderVegaLiteSvg(spec);
}

/**
 * Scatter plot with optional colour groups and optional text labels next to
 * the points (e.g. teacher accuracy vs. student accuracy).
 */
export async function scatterSvg(input: ScatterInput): Promise<string> {
  const values = input.points
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
    .map((p) => ({ x: p.x, y: p.y, label: p.label ?? '', group: p.group ?? '' }));
  const grouped = input.points.some((p) => p.group !== undefined);
  const xEnc = { field: 'x', type: 'quantitative' as const, title: input.xLabel, scale: { zero: false } };
  const yEnc = { field: 'y', type: 'quantitative' as const, title: input.yLabel, scale: { zero: false } };
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    title: input.title,
    ...size(input),
    data: { values },
    layer: [
      {
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: xEnc,
          y: yEnc,
          ...(grouped ? { color: { field: 'group', type: 'nominal' as const, title: null } } : {}),
        },
      },
      {
        transform: [{ filter: "datum.label != ''" }],
        mark: { type: 'text', align: 'left', dx: 6, dy: -6, fontSize: 10 },
        encoding: { x: xEnc, y: yEnc, text: { field: 'label', type: 'nominal' } },
      },
    ],
  };
  return renderVegaLiteSvg(spec);
}
