/**
 * Small hand-written SVG line charts: several series over a numeric or time x axis, with
 * optional per-point bands (e.g. a 95% interval) and a point marker per value. The SVG
 * scales with its container (viewBox); each point has a <title> for hover and screen readers.
 */

const SVG = 'http://www.w3.org/2000/svg';

export interface ChartPoint {
  x: number;
  y: number;
  /** Band around the value (error bar / interval), in y units. */
  lo?: number;
  hi?: number;
  /** Text for the point's tooltip. */
  label?: string;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
  /** Colour index into the palette (stable per series), or a CSS colour. */
  color?: string;
  dashed?: boolean;
}

export interface LineChartOptions {
  series: ChartSeries[];
  /** Accessible description of the whole chart. */
  label: string;
  width?: number;
  height?: number;
  xType?: 'time' | 'number';
  yMin?: number;
  yMax?: number;
  yFormat?: (v: number) => string;
  xFormat?: (v: number) => string;
  /** Draw a band (lo..hi) behind each series. */
  bands?: boolean;
  className?: string;
  /** Pixels to shift each series sideways (so bars of series at the same x stay apart). */
  dodge?: number;
}

export const PALETTE = ['#4338ca', '#0e7490', '#c2410c', '#15803d', '#a21caf', '#b45309', '#be123c', '#334155'];

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 4): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max === min) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const HOUR = 3_600_000;

function timeTicks(min: number, max: number, count = 4): number[] {
  const span = max - min;
  const steps = [HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 48 * HOUR, 7 * 24 * HOUR];
  const step = steps.find((s) => span / s <= count) ?? Math.ceil(span / count / (24 * HOUR)) * 24 * HOUR;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max; v += step) ticks.push(v);
  return ticks.length ? ticks : [min];
}

export function formatHour(ms: number): string {
  const d = new Date(ms);
  const hh = String(d.getHours()).padStart(2, '0');
  return `${d.getDate()}/${d.getMonth() + 1} ${hh}:00`;
}

/** An SVG line chart; with no points at all it shows "No data yet". */
export function lineChart(o: LineChartOptions): SVGSVGElement {
  const W = Math.max(200, o.width ?? 640);
  const H = Math.max(100, o.height ?? 220);
  const m = { top: 12, right: 14, bottom: 28, left: 46 };
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: `chart ${o.className ?? ''}`.trim(), preserveAspectRatio: 'xMidYMid meet' });
  svg.append(el('title', {}, o.label));

  const all = o.series.flatMap((s) => s.points);
  if (all.length === 0) {
    svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'No data yet'));
    return svg;
  }

  let xMin = Math.min(...all.map((p) => p.x));
  let xMax = Math.max(...all.map((p) => p.x));
  if (xMin === xMax) {
    const pad = o.xType === 'time' ? HOUR : Math.max(1, Math.abs(xMin) * 0.1);
    xMin -= pad;
    xMax += pad;
  }
  const ys = all.flatMap((p) => [p.y, ...(o.bands && p.lo !== undefined ? [p.lo] : []), ...(o.bands && p.hi !== undefined ? [p.hi] : [])]);
  let yMin = o.yMin ?? Math.min(...ys);
  let yMax = o.yMax ?? Math.max(...ys);
  if (yMin === yMax) {
    yMin -= Math.abs(yMin) * 0.1 || 1;
    yMax += Math.abs(yMax) * 0.1 || 1;
  } else if (o.yMin === undefined || o.yMax === undefined) {
    const pad = (yMax - yMin) * 0.08;
    if (o.yMin === undefined) yMin -= pad;
    if (o.yMax === undefined) yMax += pad;
  }

  const pxBase = (x: number) => m.left + ((x - xMin) / (xMax - xMin)) * (W - m.left - m.right);
  const py = (y: number) => m.top + (1 - (y - yMin) / (yMax - yMin)) * (H - m.top - m.bottom);
  const fy = o.yFormat ?? ((v: number) => String(Number(v.toPrecision(3))));
  const fx = o.xFormat ?? (o.xType === 'time' ? formatHour : (v: number) => String(Number(v.toPrecision(4))));

  // Grid and axes.
  const axes = el('g', { class: 'chart-axes', 'aria-hidden': 'true' });
  for (const t of niceTicks(yMin, yMax, 4)) {
    axes.append(el('line', { x1: m.left, x2: W - m.right, y1: py(t), y2: py(t), class: 'chart-grid' }));
    axes.append(el('text', { x: m.left - 6, y: py(t) + 4, 'text-anchor': 'end' }, fy(t)));
  }
  const xt = o.xType === 'time' ? timeTicks(xMin, xMax, 4) : niceTicks(xMin, xMax, 5);
  for (const t of xt) {
    if (t < xMin || t > xMax) continue;
    axes.append(el('line', { x1: pxBase(t), x2: pxBase(t), y1: H - m.bottom, y2: H - m.bottom + 4, class: 'chart-tick' }));
    // Keep the first and last labels inside the chart.
    const anchor = pxBase(t) < m.left + 30 ? 'start' : pxBase(t) > W - m.right - 30 ? 'end' : 'middle';
    axes.append(el('text', { x: pxBase(t), y: H - m.bottom + 17, 'text-anchor': anchor }, fx(t)));
  }
  axes.append(el('line', { x1: m.left, x2: W - m.right, y1: H - m.bottom, y2: H - m.bottom, class: 'chart-axis' }));
  svg.append(axes);

  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (pts.length === 0) return;
    const shift = o.dodge ? (i - (o.series.length - 1) / 2) * o.dodge : 0;
    const px = (x: number) => pxBase(x) + shift;
    const g = el('g', { class: 'chart-series', 'data-series': s.name });
    if (o.bands) {
      for (const p of pts) {
        if (p.lo === undefined || p.hi === undefined) continue;
        g.append(el('line', { x1: px(p.x), x2: px(p.x), y1: py(p.lo), y2: py(p.hi), stroke: color, class: 'chart-errorbar' }));
      }
      const banded = pts.filter((p) => p.lo !== undefined && p.hi !== undefined);
      if (banded.length > 1) {
        const upper = banded.map((p) => `${px(p.x).toFixed(1)},${py(p.hi!).toFixed(1)}`);
        const lower = banded.map((p) => `${px(p.x).toFixed(1)},${py(p.lo!).toFixed(1)}`).reverse();
        g.append(el('path', { d: `M${upper.join('L')}L${lower.join('L')}Z`, fill: color, class: 'chart-band' }));
      }
    }
    const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join('');
    g.append(el('path', { d, stroke: color, class: `chart-line${s.dashed ? ' dashed' : ''}`, 'data-points': pts.length }));
    if (pts.length <= 200) {
      for (const p of pts) {
        const c = el('circle', { cx: px(p.x).toFixed(1), cy: py(p.y).toFixed(1), r: 3.5, fill: color, class: 'chart-point' });
        c.append(el('title', {}, p.label ?? `${s.name}: ${fy(p.y)} at ${fx(p.x)}`));
        g.append(c);
      }
    }
    svg.append(g);
  });
  return svg;
}

/** A legend (HTML) for the series of a chart. */
export function legend(series: { name: string; color?: string }[], note?: string): HTMLElement {
  const ul = document.createElement('ul');
  ul.className = 'chart-legend';
  series.forEach((s, i) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.setAttribute('aria-hidden', 'true');
    sw.style.background = s.color ?? PALETTE[i % PALETTE.length]!;
    li.append(sw, s.name);
    ul.append(li);
  });
  if (note) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = note;
    ul.append(li);
  }
  return ul;
}

/** The 95% Wilson interval of a bad rate, as the gateway's statistics compute it. */
export { wilsonInterval as wilson } from '@nst/common/feedbackStats';
