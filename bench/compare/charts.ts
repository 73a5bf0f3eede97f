// Small SVG charts for the report: grouped bars with min–max whiskers, and latency CDFs on a "nines" axis.
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v >= 10 ? v.toFixed(0) : v.toFixed(2));

export interface Bar {
  series: string;
  median: number;
  min: number;
  max: number;
}

/** Groups of bars (one per series), each bar the median with a whisker from min to max. */
export function barChart(title: string, unit: string, groups: { label: string; bars: Bar[] }[]): string {
  const series = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const top = Math.max(1, ...groups.flatMap((g) => g.bars.map((b) => b.max)));
  const W = 900;
  const H = 420;
  const left = 70;
  const plotH = 280;
  const plotTop = 40;
  const groupW = (W - left - 20) / Math.max(1, groups.length);
  const barW = Math.min(40, (groupW - 20) / Math.max(1, series.length));
  const y = (v: number) => plotTop + plotH - (v / top) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<line x1="${left}" y1="${plotTop + plotH}" x2="${W - 10}" y2="${plotTop + plotH}" stroke="black"/>`,
    `<text x="14" y="${plotTop + plotH / 2}" transform="rotate(-90 14 ${plotTop + plotH / 2})" text-anchor="middle">${esc(unit)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    parts.push(`<line x1="${left}" y1="${y(v)}" x2="${W - 10}" y2="${y(v)}" stroke="#ddd"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + (groupW - barW * series.length) / 2;
    parts.push(`<text x="${left + gi * groupW + groupW / 2}" y="${plotTop + plotH + 18}" text-anchor="middle">${esc(g.label)}</text>`);
    for (const b of g.bars) {
      const si = series.indexOf(b.series);
      const x = gx + si * barW;
      parts.push(`<rect x="${x + 2}" y="${y(b.median)}" width="${barW - 4}" height="${plotTop + plotH - y(b.median)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(b.series)}: ${fmt(b.median)}</title></rect>`);
      parts.push(`<line x1="${x + barW / 2}" y1="${y(b.min)}" x2="${x + barW / 2}" y2="${y(b.max)}" stroke="black"/>`);
      parts.push(`<text x="${x + barW / 2}" y="${y(b.max) - 4}" text-anchor="middle" font-size="10">${fmt(b.median)}</text>`);
    }
  });
  series.forEach((s, si) => {
    const lx = left + (si % 3) * 270;
    const ly = plotTop + plotH + 40 + Math.floor(si / 3) * 18;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[si % COLORS.length]}"/><text x="${lx + 18}" y="${ly}">${esc(s)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Latency CDFs: x is the percentile on a log scale of 1/(1-p) (50, 90, 99, 99.9, 99.99), y the latency in ms (log). */
export function cdfChart(title: string, series: { label: string; points: [number, number][] }[]): string {
  const W = 900;
  const H = 440;
  const left = 70;
  const plotW = W - left - 30;
  const plotTop = 40;
  const plotH = 300;
  const nines = (p: number) => Math.log10(1 / Math.max(1e-5, 1 - Math.min(p, 99.999) / 100));
  const maxX = nines(99.99);
  const values = series.flatMap((s) => s.points.map(([, v]) => Math.max(0.01, v)));
  const lo = Math.floor(Math.log10(Math.min(...values, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...values, 10)));
  const x = (p: number) => left + (Math.min(nines(p), maxX) / maxX) * plotW;
  const y = (v: number) => plotTop + plotH - ((Math.log10(Math.max(0.01, v)) - lo) / Math.max(1, hi - lo)) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<text x="14" y="${plotTop + plotH / 2}" transform="rotate(-90 14 ${plotTop + plotH / 2})" text-anchor="middle">end-to-end latency, ms (log)</text>`,
  ];
  for (let e = lo; e <= hi; e++) parts.push(`<line x1="${left}" y1="${y(10 ** e)}" x2="${left + plotW}" y2="${y(10 ** e)}" stroke="#ddd"/><text x="${left - 6}" y="${y(10 ** e) + 4}" text-anchor="end">${10 ** e}</text>`);
  for (const p of [0, 50, 90, 99, 99.9, 99.99]) parts.push(`<line x1="${x(p)}" y1="${plotTop}" x2="${x(p)}" y2="${plotTop + plotH}" stroke="#eee"/><text x="${x(p)}" y="${plotTop + plotH + 16}" text-anchor="middle">p${p}</text>`);
  series.forEach((s, si) => {
    const d = s.points.map(([p, v], i) => `${i === 0 ? 'M' : 'L'}${x(p).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${COLORS[si % COLORS.length]}" stroke-width="2"><title>${esc(s.label)}</title></path>`);
    const lx = left + (si % 3) * 270;
    const ly = plotTop + plotH + 40 + Math.floor(si / 3) * 18;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[si % COLORS.length]}"/><text x="${lx + 18}" y="${ly}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
