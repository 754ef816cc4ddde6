/**
 * The drill history chart: achieved RTO and data-loss window of each drill, oldest left, against
 * the plan's targets (dashed), as inline SVG (no script, no library fetched: the file stays
 * self-contained and prints). Two panels, each with its own scale.
 */
import { formatElapsed } from '../common/index.ts';
import { escapeHtml as e } from './escape.ts';
import type { DrillHistory, Objective } from './model.ts';

const W = 960;
const PANEL_H = 180;
const PAD = { left: 70, right: 16, top: 22, bottom: 26 };

export function historyChart(history: DrillHistory): string {
  const panels = [
    panel(
      'Achieved RTO (wall clock)',
      history.drills.map((d) => d.rto),
      history.targets.rtoMs,
      0,
      '#1f6feb',
    ),
    panel(
      "Data-loss window (RPO achieved, sites' clock)",
      history.drills.map((d) => d.rpo),
      history.targets.rpoMs,
      PANEL_H,
      '#8250df',
    ),
  ];
  return `<svg viewBox="0 0 ${W} ${PANEL_H * 2}" width="${W}" height="${PANEL_H * 2}" role="img" aria-label="achieved RTO and data loss per drill" font-family="system-ui,sans-serif" font-size="11">${panels.join('')}</svg>`;
}

function panel(
  title: string,
  values: Objective[],
  targetMs: number | undefined,
  y0: number,
  color: string,
): string {
  const achieved = values.map((v) => v.achievedMs);
  const max = Math.max(targetMs ?? 0, ...achieved.map((v) => v ?? 0), 1) * 1.1;
  const plotW = W - PAD.left - PAD.right;
  const plotH = PANEL_H - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (values.length === 1 ? plotW / 2 : (plotW * i) / (values.length - 1));
  const y = (v: number) => y0 + PAD.top + plotH - (plotH * v) / max;
  const out: string[] = [
    `<text x="${PAD.left}" y="${y0 + 14}" font-weight="600">${e(title)}</text>`,
    `<line x1="${PAD.left}" y1="${y(0)}" x2="${W - PAD.right}" y2="${y(0)}" stroke="#8c959f"/>`,
    `<line x1="${PAD.left}" y1="${y0 + PAD.top}" x2="${PAD.left}" y2="${y(0)}" stroke="#8c959f"/>`,
  ];
  for (const tick of [0, 0.5, 1]) {
    const v = (max / 1.1) * tick;
    out.push(
      `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#5b6470">${e(formatElapsed(v))}</text>`,
    );
  }
  if (targetMs !== undefined)
    out.push(
      `<line x1="${PAD.left}" y1="${y(targetMs)}" x2="${W - PAD.right}" y2="${y(targetMs)}" stroke="#b3261e" stroke-dasharray="6 4"/>`,
      `<text x="${W - PAD.right}" y="${y(targetMs) - 4}" text-anchor="end" fill="#b3261e">target ${e(formatElapsed(targetMs))}</text>`,
    );
  const points = achieved.flatMap((v, i) =>
    v === undefined ? [] : [`${x(i).toFixed(1)},${y(v).toFixed(1)}`],
  );
  if (points.length > 1)
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points.join(' ')}"/>`);
  values.forEach((v, i) => {
    if (v.achievedMs === undefined) {
      out.push(`<text x="${x(i)}" y="${y(0) - 4}" text-anchor="middle" fill="#8a5a00">n/a</text>`);
      return;
    }
    const fill = v.verdict === 'fail' ? '#b3261e' : color;
    out.push(
      `<circle cx="${x(i).toFixed(1)}" cy="${y(v.achievedMs).toFixed(1)}" r="3.5" fill="${fill}"><title>${e(formatElapsed(v.achievedMs))} (${e(v.verdict)})</title></circle>`,
    );
  });
  out.push(
    `<text x="${PAD.left}" y="${y0 + PANEL_H - 8}" fill="#5b6470">oldest</text>`,
    `<text x="${W - PAD.right}" y="${y0 + PANEL_H - 8}" text-anchor="end" fill="#5b6470">newest (${values.length} drills)</text>`,
  );
  return out.join('');
}
