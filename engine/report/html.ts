/**
 * The HTML forms of a report: one self-contained file (inline CSS and SVG, no script, nothing
 * fetched: it opens offline years later and prints as it shows). Every text from the record or the
 * log is escaped: step output and reasons come from scripts, agents and operators.
 */
import { formatElapsed } from '../common/index.ts';
import { historyChart } from './chart.ts';
import { escapeHtml } from './escape.ts';
import type { DrillHistory, ExecutionReport, Objective, Verdict } from './model.ts';

const e = escapeHtml;

/** The `<meta>` naming the execution a report file is of: `drctl report --verify` reads it. */
export const EXECUTION_META = 'dr-execution';

const STYLE = `
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d5dae0;--pass:#116329;--fail:#b3261e;--warn:#8a5a00;--bg2:#f5f7f9}
*{box-sizing:border-box}body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:24px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.muted{color:var(--muted)}table{border-collapse:collapse;width:100%;margin:4px 0 8px}
th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}th{background:var(--bg2);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}code,pre{font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{margin:2px 0;white-space:pre-wrap;word-break:break-word;background:var(--bg2);padding:4px}
.v{font-weight:700;text-transform:uppercase;font-size:11px;padding:1px 5px;border-radius:3px;border:1px solid}
.v-pass{color:var(--pass)}.v-fail{color:var(--fail)}.v-not-measured{color:var(--warn)}.v-no-target{color:var(--muted)}
.banner{font-size:16px;margin:8px 0;padding:8px 12px;border:2px solid;border-radius:4px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}dt{color:var(--muted)}dd{margin:0}
svg{max-width:100%;height:auto}pre.tl{background:none;padding:0;margin:0;font-size:11px;line-height:1.3}
@media print{body{margin:0;max-width:none;font-size:10.5px}h2{break-after:avoid}tr,.banner,svg{break-inside:avoid}pre{break-inside:auto}
thead{display:table-header-group}a{color:inherit;text-decoration:none}@page{size:A4;margin:14mm 12mm}}
`;

function page(title: string, execution: string | undefined, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
${execution === undefined ? '' : `<meta name="${EXECUTION_META}" content="${e(execution)}">\n`}<title>${e(title)}</title>
<style>${STYLE}</style></head>
<body>
${body}
</body></html>
`;
}

function verdictTag(verdict: Verdict): string {
  return `<span class="v v-${verdict}">${e(verdict)}</span>`;
}

function ms(value: number | undefined): string {
  return value === undefined ? '-' : e(formatElapsed(value));
}

function objectiveCells(o: Objective): string {
  return `<td class="num">${ms(o.targetMs)}</td><td class="num">${ms(o.achievedMs)}</td><td>${verdictTag(o.verdict)}</td>`;
}

function table(head: string[], rows: string[], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${e(empty)}</p>`;
  return `<table><thead><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

function pre(text: string | undefined): string {
  return text === undefined ? '' : `<pre>${e(text)}</pre>`;
}

export function renderReportHtml(report: ExecutionReport): string {
  const x = report.execution;
  const s = report.scope;
  const o = report.objectives;
  const title = `Recovery exercise report: ${s.plan}, ${x.id}`;
  const parts: string[] = [];
  parts.push(
    `<h1>${e(title)}</h1>`,
    `<p class="muted">${e(x.type === 'test' ? 'Drill (test failover)' : `${x.type} ${x.direction}`)} · generated ${e(report.generatedAt)} from the execution's record and event log · report schema v${report.v}</p>`,
    `<div class="banner v-${o.verdict}">Objectives: ${verdictTag(o.verdict)} · RTO ${ms(o.rto.achievedMs)} against ${ms(o.rto.targetMs)} · data loss ${ms(o.rpo.achievedMs)} against an RPO of ${ms(o.rpo.targetMs)} · status ${e(x.status)}</div>`,
  );

  parts.push(
    '<h2>Scope</h2><dl>',
    `<dt>Plan</dt><dd>${e(s.plan)}${s.description ? ` — ${e(s.description)}` : ''}</dd>`,
    `<dt>Plan version (hash)</dt><dd><code>${e(s.hash)}</code></dd>`,
    `<dt>Sites</dt><dd>${e(s.source)} → ${e(s.target)}</dd>`,
    `<dt>Recovery point</dt><dd>${e(s.recoveryPoint)}</dd>`,
    `<dt>VMs (${s.vms.length})</dt><dd>${e(s.vms.join(', '))}</dd>`,
    '</dl>',
  );

  parts.push(
    '<h2>When, who and why</h2><dl>',
    `<dt>Execution</dt><dd><code>${e(x.id)}</code> (epoch ${e(x.epoch)})</dd>`,
    `<dt>Started by</dt><dd>${e(x.by)}</dd>`,
    `<dt>Reason</dt><dd>${e(x.reason)}</dd>`,
    `<dt>Submitted</dt><dd>${e(x.createdAt)}</dd>`,
    `<dt>Orchestrator start</dt><dd>${e(x.startedAt ?? '-')}</dd>`,
    `<dt>Last VM ready</dt><dd>${e(x.readyAt ?? '-')}</dd>`,
    `<dt>Finished</dt><dd>${e(x.finishedAt ?? '-')}${x.durationMs === undefined ? '' : ` (took ${ms(x.durationMs)})`}</dd>`,
    `<dt>Estimated RTO</dt><dd>${ms(x.estimateMs)} (the plan's estimate)</dd>`,
    x.parent ? `<dt>Acts on</dt><dd><code>${e(x.parent)}</code></dd>` : '',
    x.cleanup ? `<dt>Cleanup</dt><dd><code>${e(x.cleanup)}</code></dd>` : '',
    x.error ? `<dt>Error</dt><dd>${e(x.error)}</dd>` : '',
    '</dl>',
  );

  parts.push(
    "<h2>Objectives (the plan's spec.targets)</h2>",
    table(
      ['Objective', 'Target', 'Achieved', 'Verdict'],
      [
        `<tr><td>RTO: submit → last VM ready (wall clock)</td>${objectiveCells(o.rto)}</tr>`,
        `<tr><td>RPO: widest data-loss window (the sites' clock)</td>${objectiveCells(o.rpo)}</tr>`,
      ],
      '',
    ),
  );

  parts.push(
    '<h2>Per VM: recovery point, RTO and data loss</h2>',
    table(
      [
        'VM',
        'Last phase',
        'Recovery point',
        'Ready at',
        'RTO',
        'RTO verdict',
        'Data-loss window',
        'RPO verdict',
      ],
      report.vms.map(
        (vm) =>
          `<tr><td>${e(vm.vm)}</td><td>${e(vm.phase ?? '-')}</td><td>${vm.recoveryPoint ? `${e(vm.recoveryPoint.time)}${vm.recoveryPoint.id ? `<br><code>${e(vm.recoveryPoint.id)}</code>` : ''}` : '-'}</td><td>${e(vm.readyAt ?? '-')}</td><td class="num">${ms(vm.rto.achievedMs)}</td><td>${verdictTag(vm.rto.verdict)}</td><td>${vm.dataLoss ? `${ms(vm.dataLoss.windowMs)} (${e(vm.dataLoss.bound)})<br><span class="muted">${e(vm.dataLoss.windowStart)} → ${e(vm.dataLoss.windowEnd)}</span>` : '-'}</td><td>${verdictTag(vm.rpo.verdict)}</td></tr>`,
      ),
      'no VMs',
    ),
  );

  parts.push(
    '<h2>Approvals</h2>',
    table(
      ['Step', 'Approved by', 'Comment', 'Given at', 'Applied at', 'Accepted'],
      report.approvals.map(
        (a) =>
          `<tr><td><code>${e(a.step)}</code></td><td>${e(a.by)}</td><td>${e(a.comment)}</td><td>${e(a.givenAt)}</td><td>${e(a.appliedAt)}</td><td>${a.accepted ? 'yes' : `no${a.detail ? `: ${e(a.detail)}` : ''}`}</td></tr>`,
      ),
      'no approvals: the plan has no manual action for this run',
    ),
  );

  parts.push(
    '<h2>Actions and their output</h2>',
    table(
      ['Action', 'Kind', 'Outcome', 'Attempt', 'At', 'Output'],
      report.actions.map(
        (a) =>
          `<tr><td><code>${e(a.action)}</code> @${e(a.site)}</td><td>${e(a.kind)}</td><td>${e(a.outcome)}${a.error ? `<br>${e(a.error.code)}: ${e(a.error.message)}` : ''}</td><td class="num">${e(a.attempt)}</td><td>${e(a.at)}</td><td>${a.truncated ? '<span class="muted">(truncated: its last part only)</span>' : ''}${a.stdout ? `stdout${pre(a.stdout)}` : ''}${a.stderr ? `stderr${pre(a.stderr)}` : ''}${pre(a.output)}</td></tr>`,
      ),
      'no actions ran',
    ),
  );

  parts.push(
    '<h2>Errors and how they were resolved</h2>',
    table(
      ['Step', 'At', 'Attempt', 'Error', 'Resolution', 'By', 'Resolved at'],
      report.errors.map(
        (r) =>
          `<tr><td><code>${e(r.step)}</code></td><td>${e(r.at)}</td><td class="num">${e(r.attempt)}</td><td>${e(r.code)}: ${e(r.message)}</td><td>${e(r.resolution)}${r.reason ? ` ("${e(r.reason)}")` : ''}</td><td>${e(r.resolvedBy ?? '-')}</td><td>${e(r.resolvedAt ?? '-')}</td></tr>`,
      ),
      'no errors',
    ),
  );

  if (report.cleanup) {
    const c = report.cleanup;
    parts.push(
      '<h2>Cleanup of the drill</h2>',
      `<p>${verdictTag(c.complete ? 'pass' : 'fail')} ${c.complete ? `every test VM was removed by ${e(c.execution ?? '')}` : `not cleaned up: status ${e(c.status)}${c.missing.length > 0 ? `; no cleanup done for ${e(c.missing.join(', '))}` : ''}`}</p>`,
      table(
        ['VM', 'Test VM', 'Outcome', 'Removed now', 'At'],
        c.vms.map(
          (v) =>
            `<tr><td>${e(v.vm)}</td><td>${e(v.testVm ?? '-')}</td><td>${e(v.outcome)}</td><td>${v.removed ? 'yes' : 'no (already gone)'}</td><td>${e(v.at)}</td></tr>`,
        ),
        'no cleanup steps ran yet',
      ),
    );
  }

  parts.push(
    `<h2>Timeline (${report.timeline.length} events)</h2><p class="muted">${e(report.clocks)}</p>`,
    timelineBlock(report),
    `<p class="muted">The SHA-256 of this file was recorded with the execution when it was generated: check a copy with <code>drctl report --verify &lt;file&gt;</code>.</p>`,
  );
  return page(title, x.id, parts.join('\n'));
}

/** Lines of the timeline per `<pre>`: one escape per block, and a print break may fall between blocks. */
const TIMELINE_BLOCK = 500;

/**
 * The timeline as preformatted lines (`drctl events`' lines, a script's output indented under its
 * step), in blocks: the cheapest markup for 140,000 events, and what a reader of a log expects.
 */
function timelineBlock(report: ExecutionReport): string {
  const own = report.execution.id;
  const blocks: string[] = [];
  let lines: string[] = [];
  for (const t of report.timeline) {
    const other = t.execution === own ? '' : `[${t.execution}] `;
    lines.push(`${t.at} +${formatElapsed(t.offsetMs).padStart(7)}  ${other}${t.text}`);
    if (t.output) for (const line of t.output) lines.push(`    ${line}`);
    if (lines.length >= TIMELINE_BLOCK) {
      blocks.push(`<pre class="tl">${e(lines.join('\n'))}</pre>`);
      lines = [];
    }
  }
  if (lines.length > 0) blocks.push(`<pre class="tl">${e(lines.join('\n'))}</pre>`);
  return blocks.join('\n');
}

export function renderHistoryHtml(history: DrillHistory): string {
  const title = `Drill history: ${history.plan}`;
  const rows = history.drills.map(
    (d) =>
      `<tr><td><code>${e(d.execution)}</code></td><td>${e(d.createdAt)}</td><td>${e(d.status)}</td><td>${e(d.by)}: ${e(d.reason)}</td><td class="num">${e(d.vms)}</td><td class="num">${ms(d.rto.achievedMs)}</td><td>${verdictTag(d.rto.verdict)}</td><td class="num">${ms(d.rpo.achievedMs)}</td><td>${verdictTag(d.rpo.verdict)}</td><td>${verdictTag(d.verdict)}</td></tr>`,
  );
  const body = [
    `<h1>${e(title)}</h1>`,
    `<p class="muted">generated ${e(history.generatedAt)} · targets: RTO ${ms(history.targets.rtoMs)}, RPO ${ms(history.targets.rpoMs)} (the plan's spec.targets) · RTO wall clock, data loss the sites' clock</p>`,
    '<h2>Achieved RTO and RPO across drills</h2>',
    history.drills.length === 0 ? '<p class="muted">no drills of this plan</p>' : historyChart(history),
    '<h2>Drills</h2>',
    table(
      ['Drill', 'Submitted', 'Status', 'By: reason', 'VMs', 'RTO', '', 'Data loss', '', 'Verdict'],
      rows,
      'no drills of this plan',
    ),
  ].join('\n');
  return page(title, undefined, body);
}
