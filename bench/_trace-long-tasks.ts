/**
 * Attribution of a page's long main-thread tasks from a Chrome performance trace (CDP `Tracing`,
 * the devtools.timeline categories): each top-level task over `overMs` on the renderer's main
 * thread, with the events inside it that took longest (script by function and URL, JSON/GC,
 * layout, paint). Used by bench/dashboard-10k.ts when DASHBOARD_TRACE=1.
 */
import type { CDPSession, Page } from 'playwright-core';

interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: { name?: string; data?: Record<string, unknown> };
}

const CATEGORIES = [
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'v8',
  'v8.execute',
  'blink',
  'loading',
  'toplevel',
  'disabled-by-default-v8.gc',
].join(',');

export async function startTrace(page: Page): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Tracing.start', { categories: CATEGORIES, transferMode: 'ReportEvents' });
  return cdp;
}

export async function stopTrace(cdp: CDPSession): Promise<TraceEvent[]> {
  const events: TraceEvent[] = [];
  const done = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
  cdp.on('Tracing.dataCollected', (data) => {
    for (const e of data.value) events.push(e as unknown as TraceEvent);
  });
  await cdp.send('Tracing.end');
  await done;
  await cdp.detach();
  return events;
}

/** Frames that only wrap what ran (said by the events inside them). */
const WRAPPERS = new Set([
  'WebFrameWidgetImpl::BeginMainFrame',
  'Blink.Animate.UpdateTime',
  'PageAnimator::serviceScriptedAnimations',
  'FrameRequestCallbackCollection::ExecuteFrameCallbacks',
  'AsyncTask Run',
  'v8.callFunction',
  'TimerBase::run',
]);

const describe = (e: TraceEvent): string => {
  const d = e.args?.data ?? {};
  const what = [d.functionName, d.url, d.lineNumber, d.columnNumber, d.type].filter(
    (v) => v !== undefined && v !== '',
  );
  return what.length === 0 ? e.name : `${e.name} ${what.join(' ').slice(0, 120)}`;
};

/** One line per long task: its duration, its start against the first event, its biggest parts. */
export function longTaskReport(events: TraceEvent[], overMs = 45): string[] {
  const mains = new Set(
    events
      .filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain')
      .map((e) => `${e.pid}:${e.tid}`),
  );
  const onMain = events.filter((e) => mains.has(`${e.pid}:${e.tid}`) && e.ph === 'X' && e.dur !== undefined);
  const origin = Math.min(...onMain.map((e) => e.ts));
  const tasks = onMain.filter((e) => e.name === 'ThreadControllerImpl::RunTask' && e.dur! / 1000 > overMs);
  const lines: string[] = [];
  for (const task of tasks) {
    const inside = onMain.filter(
      (e) =>
        e !== task &&
        e.tid === task.tid &&
        e.pid === task.pid &&
        e.ts >= task.ts &&
        e.ts + e.dur! <= task.ts + task.dur!,
    );
    const parts = inside
      .filter((e) => e.name !== 'RunTask' && e.dur! / 1000 >= 2 && !WRAPPERS.has(e.name))
      .sort((a, b) => b.dur! - a.dur!)
      .slice(0, 12)
      .map((e) => `${describe(e)} ${(e.dur! / 1000).toFixed(1)}`);
    lines.push(
      `task ${(task.dur! / 1000).toFixed(1)} ms at +${((task.ts - origin) / 1000).toFixed(0)} ms: ${parts.join(' | ')}`,
    );
  }
  return lines;
}
