/** A small line-chart SVG generator: polylines with axes, no dependencies. */

export interface Series {
  name: string;
  points: [number, number][];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  /** A log-scale y axis (latencies that span 1 ms to 1 s); points with y <= 0 are left out. */
  logY?: boolean;
  width?: number;
  height?: number;
}

const COLOURS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceTicks(min: number, max: number, count = 5): number[] {
  if (max <= min) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return `${Number((v / 1000).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 380;
  const m = { l: 64, r: 150, t: 36, b: 48 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const keep = ([x, y]: [number, number]) => (!o.logX || x > 0) && (!o.logY || y > 0);
  const all = series.flatMap((s) => s.points).filter(keep);
  const tx = (x: number) => (o.logX ? Math.log10(Math.max(x, 1e-9)) : x);
  const ty = (y: number) => (o.logY ? Math.log10(Math.max(y, 1e-9)) : y);
  let x0 = Math.min(...all.map(([x]) => tx(x)));
  let x1 = Math.max(...all.map(([x]) => tx(x)));
  let y0 = o.logY ? Math.min(...all.map(([, y]) => ty(y))) : 0;
  let y1 = Math.max(...all.map(([, y]) => ty(y)));
  if (!all.length) [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (o.logX) {
    x0 = Math.floor(x0);
    x1 = Math.ceil(x1);
  }
  if (o.logY) {
    y0 = Math.floor(y0);
    y1 = Math.ceil(y1);
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  const X = (x: number) => Math.round((m.l + ((tx(x) - x0) / (x1 - x0)) * pw) * 10) / 10;
  const Y = (y: number) => Math.round((m.t + ph - ((ty(y) - y0) / (y1 - y0)) * ph) * 10) / 10;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(
    `<text x="${W / 2 - m.r / 2}" y="20" text-anchor="middle" font-size="14">${esc(o.title)}</text>`,
  );
  // axes and grid
  const xt = o.logX
    ? Array.from({ length: x1 - x0 + 1 }, (_, i) => 10 ** (x0 + i))
    : niceTicks(x0, x1);
  for (const v of xt) {
    const x = X(v);
    parts.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${m.t + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${m.t + ph + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  const yt = o.logY
    ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i))
    : niceTicks(y0, y1);
  for (const v of yt) {
    const y = Y(v);
    parts.push(`<line x1="${m.l}" y1="${y}" x2="${m.l + pw}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  parts.push(
    `<line x1="${m.l}" y1="${m.t + ph}" x2="${m.l + pw}" y2="${m.t + ph}" stroke="black"/>`,
  );
  parts.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${m.t + ph}" stroke="black"/>`);
  parts.push(
    `<text x="${m.l + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const pts = s.points.filter(keep);
    if (pts.length) {
      parts.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const [x, y] of pts)
        parts.push(
          `<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.5" fill="${colour}"/>`,
        );
    }
    const ly = m.t + 10 + i * 18;
    parts.push(
      `<line x1="${W - m.r + 12}" y1="${ly}" x2="${W - m.r + 32}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`,
    );
    parts.push(`<text x="${W - m.r + 36}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
