// The soak's curve as a small SVG: four panels (RSS, heap after GC, open fds, timers) over
// the minutes, the end of warm-up marked.
interface Point {
  minute: number;
  rssMb: number;
  heapAfterGcMb: number;
  fds: number;
  timers: number;
}

const W = 300;
const H = 150;
const PAD = 34;

function panel(x0: number, y0: number, title: string, unit: string, pts: [number, number][], warmup: number, maxMinute: number): string {
  const ys = pts.map((p) => p[1]);
  const top = Math.max(1, ...ys) * 1.15;
  const sx = (m: number): number => x0 + PAD + ((m - 1) / Math.max(1, maxMinute - 1)) * (W - PAD - 10);
  const sy = (v: number): number => y0 + H - 20 - (v / top) * (H - 45);
  const line = pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
  const wx = sx(warmup).toFixed(1);
  return [
    `<text x="${x0 + PAD}" y="${y0 + 14}" font-size="12" font-weight="bold">${title}</text>`,
    `<line x1="${x0 + PAD}" y1="${y0 + H - 20}" x2="${x0 + W - 10}" y2="${y0 + H - 20}" stroke="#999"/>`,
    `<line x1="${x0 + PAD}" y1="${y0 + 25}" x2="${x0 + PAD}" y2="${y0 + H - 20}" stroke="#999"/>`,
    `<text x="${x0 + 2}" y="${(sy(top / 1.15) + 4).toFixed(1)}" font-size="9">${(top / 1.15).toFixed(top < 20 ? 1 : 0)}</text>`,
    `<text x="${x0 + 2}" y="${y0 + H - 17}" font-size="9">0 ${unit}</text>`,
    `<text x="${x0 + W - 40}" y="${y0 + H - 5}" font-size="9">minute ${maxMinute}</text>`,
    `<line x1="${wx}" y1="${y0 + 25}" x2="${wx}" y2="${y0 + H - 20}" stroke="#c60" stroke-dasharray="3,3"/>`,
    `<text x="${Number(wx) + 2}" y="${y0 + 34}" font-size="9" fill="#c60">warm-up</text>`,
    `<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="${line}"/>`,
  ].join('\n');
}

export function renderSoakSvg(minutes: Point[], warmup: number): string {
  const max = minutes.length > 0 ? minutes[minutes.length - 1].minute : 1;
  const p = (k: keyof Point): [number, number][] => minutes.map((m) => [m.minute, m[k]]);
  const body = [
    panel(0, 0, 'RSS', 'MB', p('rssMb'), warmup, max),
    panel(W, 0, 'heap after GC', 'MB', p('heapAfterGcMb'), warmup, max),
    panel(0, H, 'open file descriptors', '', p('fds'), warmup, max),
    panel(W, H, 'timers', '', p('timers'), warmup, max),
  ].join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${2 * H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}
