/**
 * Executions: the recent ones; one execution live: a canvas timeline grouped by wave, one row per
 * VM, actions and approvals as markers, the current wave, elapsed against the estimate, and the
 * buttons (approve, step retry/skip/done, commit, cancel) the caller's role allows: a viewer sees
 * none (and the API refuses them anyway). Live from the execution's event stream, no reloads.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  api,
  type ExecutionRecord,
  type ExecutionVms,
  enc,
  type Session,
  type StoredEvent,
  type Waits,
} from '../api.ts';
import { follow, type KeepRule } from '../live.ts';
import { fetchRows, type VmColumns } from '../rows.ts';
import { useChanges, useStream } from '../stream.ts';
import {
  drawTimeline,
  MARKER_LANE_HEIGHT,
  markerAt,
  PHASE_COLOURS,
  PHASE_LABELS,
  ROW_HEIGHT,
  TimelineModel,
} from '../timeline.ts';
import { ms, useLoad, when } from '../util.ts';

/** Event types of the one-message-per-event stream (the batched one sends `event: batch`). */
const EVENT_TYPES = [
  'execution-submitted',
  'execution-started',
  'execution-resumed',
  'execution-finished',
  'execution-status',
  'vm-phase',
  'step-started',
  'step-finished',
  'step-paused',
  'operator-action',
  'action-rerun',
  'diverged',
  'data-loss',
  'recovery-point-gap',
];
/**
 * What the timeline and the buttons fold (timeline.ts apply, onEvents below): of the steps only
 * the actions' (markers) and paused ones; the VMs' own steps are drawn from their vm-phase events.
 */
const KEEP: KeepRule = {
  types: EVENT_TYPES,
  stepPrefixes: ['action/'],
  fields: ['at', 'vm', 'phase', 'step', 'command', 'by', 'status'],
};
const FINISHED = new Set([
  'completed',
  'failed',
  'cancelled',
  'awaiting-cleanup',
  'cleaned-up',
  'committed',
  'rolled-back',
]);

export function ExecutionsPage() {
  const list = useLoad(() => api<{ executions: ExecutionRecord[] }>('/executions?limit=100'), []);
  useChanges(['execution'], list.reload);
  return (
    <section>
      <h2>Executions</h2>
      {list.error && <p class="error">{list.error}</p>}
      <table data-testid="executions">
        <thead>
          <tr>
            <th>Execution</th>
            <th>Type</th>
            <th>Plan</th>
            <th>Status</th>
            <th>Steps</th>
            <th>By</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {(list.data?.executions ?? []).map((e) => (
            <tr key={e.id} data-execution={e.id}>
              <td>
                <a href={`#/executions/${enc(e.id)}`}>{e.id}</a>
              </td>
              <td>{e.type}</td>
              <td>{e.planName}</td>
              <td>
                <span class={`badge ${e.status}`}>{e.status}</span>
              </td>
              <td>
                {e.stepsDone}/{e.stepsTotal}
              </td>
              <td>{e.by}</td>
              <td>{when(e.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

interface ExecutionVmsAnswer {
  execution: {
    id: string;
    type: string;
    status: string;
    currentWave: number;
    waves: number;
    startedAt?: string;
    finishedAt?: string;
    elapsedMs: number;
    estimateMs?: number;
  };
  allowed: string[];
}

/** Rows of a view's `vms` (a control plane without /executions/:id/vms), as columns, wave unknown. */
function columnsOf(vms: Record<string, string>): VmColumns {
  const names = Object.keys(vms);
  const states = [...new Set(Object.values(vms))];
  return {
    vm: names,
    wave: new Int32Array(names.length).fill(-1),
    state: Uint8Array.from(names, (vm) => states.indexOf(vms[vm] ?? '')),
    states,
    startedAt: new Float64Array(names.length).fill(Number.NaN),
  };
}

/**
 * The rows of /executions/:id/vms, fetched and parsed in a worker (10,000 rows are 1.5 MB of JSON),
 * or (a control plane without the route) the view's phases, wave unknown.
 */
async function loadVms(id: string, role: string): Promise<ExecutionVms> {
  try {
    const answer = await fetchRows<ExecutionVmsAnswer['execution']>(`/executions/${enc(id)}/vms`);
    const e = answer.execution;
    return {
      rows: answer.columns,
      status: e.status,
      currentWave: e.currentWave,
      ...(e.startedAt === undefined ? {} : { startedAt: e.startedAt }),
      elapsedMs: e.elapsedMs,
      ...(e.estimateMs === undefined ? {} : { estimateMs: e.estimateMs }),
      allowed: answer.allowed,
    };
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404 || error.code === 'EXECUTION_NOT_FOUND')
      throw error;
    const view = await api<ExecutionRecord & { vms?: Record<string, string> }>(
      `/executions/${enc(id)}?vms=true`,
    );
    return {
      rows: columnsOf(view.vms ?? {}),
      status: view.status,
      ...(view.currentWave === undefined ? {} : { currentWave: view.currentWave }),
      startedAt: view.createdAt,
      allowed: role === 'viewer' ? [] : ['approve', 'retry', 'skip', 'done', 'commit', 'cancel', 'cleanup'],
    };
  }
}

/**
 * What the caller may do now (`allowed` follows the execution's state: an approval waiting, a step
 * paused, a failover completed, a drill awaiting cleanup): the small answer, no rows.
 */
async function loadAllowed(id: string): Promise<string[] | undefined> {
  try {
    return (await api<ExecutionVmsAnswer>(`/executions/${enc(id)}/vms?rows=false`)).allowed;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && error.code !== 'EXECUTION_NOT_FOUND')
      return undefined; // an older control plane: the first answer's `allowed` stands
    throw error;
  }
}

function Timeline({ model, tick }: { model: TimelineModel; tick: number }) {
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [tip, setTip] = useState<string | undefined>();
  const drawn = useRef(-1);
  const rows = model.rows().length;
  useEffect(() => {
    const el = box.current;
    const c = canvas.current;
    if (el === null || c === null) return;
    let frame = 0;
    let last = 0;
    const draw = (): void => {
      frame = 0;
      const dpr = devicePixelRatio || 1;
      const w = el.clientWidth;
      const h = el.clientHeight;
      if (c.width !== w * dpr || c.height !== h * dpr) {
        c.width = w * dpr;
        c.height = h * dpr;
        c.style.width = `${w}px`;
        c.style.height = `${h}px`;
      }
      const ctx = c.getContext('2d');
      if (ctx === null) return;
      drawTimeline(ctx, model, { width: w, height: h, scrollTop: el.scrollTop, now: Date.now(), dpr });
      drawn.current = model.version;
      last = performance.now();
    };
    const schedule = (): void => {
      if (frame === 0) frame = requestAnimationFrame(draw);
    };
    // Redraw when the model moved, on scroll, and each second while it runs (the "now" line).
    const poll = (): void => {
      if (drawn.current !== model.version || (model.endedAt === undefined && performance.now() - last > 1000))
        schedule();
      pollFrame = requestAnimationFrame(poll);
    };
    let pollFrame = requestAnimationFrame(poll);
    el.addEventListener('scroll', schedule, { passive: true });
    const resize = new ResizeObserver(schedule);
    resize.observe(el);
    const move = (e: MouseEvent): void => {
      const rect = el.getBoundingClientRect();
      if (e.clientY - rect.top > MARKER_LANE_HEIGHT) {
        setTip(undefined);
        return;
      }
      setTip(markerAt(model, e.clientX - rect.left, el.clientWidth, Date.now())?.label);
    };
    el.addEventListener('mousemove', move);
    return () => {
      cancelAnimationFrame(frame);
      cancelAnimationFrame(pollFrame);
      el.removeEventListener('scroll', schedule);
      el.removeEventListener('mousemove', move);
      resize.disconnect();
    };
  }, [model]);
  return (
    <div>
      <div class="legend">
        {PHASE_LABELS.map(([phase, label]) => (
          <span key={phase}>
            <i style={`background:${PHASE_COLOURS[phase]}`} />
            {label}
          </span>
        ))}
        <span>▼ markers: action (orange), approval (green), command (blue), paused (red)</span>
        {tip && <strong data-testid="marker-tip"> {tip}</strong>}
      </div>
      <div
        class="canvas-box"
        ref={box}
        style="height:calc(100vh - 330px);min-height:260px"
        data-testid="timeline"
        data-rows={rows}
        data-tick={tick}
      >
        <canvas ref={canvas} />
        <div style={`height:${MARKER_LANE_HEIGHT + rows * ROW_HEIGHT}px;margin-top:-100%`} />
      </div>
    </div>
  );
}

function Controls({
  id,
  allowed,
  waits,
  status,
  onDone,
}: {
  id: string;
  allowed: string[];
  waits: Waits | undefined;
  status: string;
  onDone(): void;
}) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | undefined>();
  const can = new Set(allowed);
  if (can.size === 0) return null;
  const run = async (label: string, path: string, body: unknown): Promise<void> => {
    const reason = prompt(`${label}: why? (kept in the event log)`, '') ?? undefined;
    if (reason === undefined) return;
    setBusy(true);
    try {
      await api(path, { method: 'POST', body: { ...(body as object), reason } });
      setMessage(`${label}: done`);
    } catch (error) {
      setMessage(`${label}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      setBusy(false);
      onDone();
    }
  };
  const step = (command: string, name: string) =>
    run(`${command} ${name}`, `/executions/${enc(id)}/steps/${enc(name)}/${command}`, {});
  return (
    <div class="actions" data-testid="controls">
      {can.has('approve') &&
        waits?.approvals.map((a) => (
          <div class="wait" key={a.step}>
            <div>
              Waiting for approval: <b>{a.step}</b> — {a.instruction}
            </div>
            <button
              type="button"
              disabled={busy}
              data-action="approve"
              onClick={() => step('approve', a.step)}
            >
              Approve
            </button>
          </div>
        ))}
      {waits?.paused.map((p) => (
        <div class="wait" key={p.step}>
          <div>
            Paused: <b>{p.step}</b> (attempt {p.attempt}) {p.error?.message ?? ''}
          </div>
          {(['retry', 'skip', 'done'] as const)
            .filter((c) => can.has(c))
            .map((c) => (
              <button type="button" key={c} disabled={busy} data-action={c} onClick={() => step(c, p.step)}>
                {c}
              </button>
            ))}
        </div>
      ))}
      {can.has('commit') && status === 'completed' && (
        <button
          type="button"
          disabled={busy}
          data-action="commit"
          onClick={() => run('commit', `/executions/${enc(id)}/commit`, {})}
        >
          Commit
        </button>
      )}
      {can.has('cleanup') && status === 'awaiting-cleanup' && (
        <button
          type="button"
          disabled={busy}
          data-action="cleanup"
          onClick={() => run('clean up', `/executions/${enc(id)}/cleanup`, {})}
        >
          Clean up
        </button>
      )}
      {can.has('cancel') && !FINISHED.has(status) && (
        <button
          type="button"
          disabled={busy}
          data-action="cancel"
          onClick={() => run('cancel', `/executions/${enc(id)}/cancel`, {})}
        >
          Cancel
        </button>
      )}
      {message && <span data-testid="control-message">{message}</span>}
    </div>
  );
}

export function ExecutionPage({ id, session }: { id: string; session: Session }) {
  const model = useMemo(() => new TimelineModel(), [id]);
  const [tick, setTick] = useState(0);
  const [stream, setStream] = useState('connecting');
  const [now, setNow] = useState(Date.now());
  const vms = useLoad(() => loadVms(id, session.role), [id]);
  const waits = useLoad(() => api<Waits>(`/executions/${enc(id)}/waits`), [id]);
  const reloadWaits = waits.reload;
  // The rows are read once (10,000 of them for a large plan); after that the stream carries the
  // phases, and the record (small) says the status the run ends in (a drill's awaiting-cleanup,
  // then cleaned-up).
  const record = useLoad(() => api<ExecutionRecord>(`/executions/${enc(id)}`), [id]);
  // What the caller may do follows the state: re-read (without the rows) whenever the record is.
  const allowed = useLoad(() => loadAllowed(id), [id]);
  const reloadRecord = record.reload;
  const reloadAllowed = allowed.reload;
  const reloadVms = useCallback(() => {
    reloadRecord();
    reloadAllowed();
  }, [reloadRecord, reloadAllowed]);
  useEffect(() => {
    if (record.data === undefined) return;
    if (model.status === '' || model.endedAt !== undefined) model.status = record.data.status;
    setTick((t) => t + 1);
  }, [record.data, model]);
  // The record's status (a drill's cleanup, a commit) moves after this stream's end.
  useStream(['execution'], (items) => {
    if (items.some((item) => item.kind === 'poll' || (item.kind === 'execution' && item.id === id)))
      reloadVms();
  });
  useEffect(() => {
    const data = vms.data;
    if (data === undefined) return;
    if (data.estimateMs !== undefined) model.estimateMs = data.estimateMs;
    if (data.currentWave !== undefined) model.currentWave = data.currentWave;
    if (data.startedAt !== undefined) model.startedAt ??= Date.parse(data.startedAt);
    if (model.status === '') model.status = data.status;
    model.setVms(data.rows);
    // When the rows were taken (bench/dashboard-10k.ts places the long tasks against it).
    performance.mark('drorch:execution-vms');
    setTick((t) => t + 1);
  }, [vms.data, model]);
  const onEvents = useCallback(
    (events: StoredEvent[], skipped: number) => {
      model.apply(
        events.map((e) => e.event),
        skipped,
      );
      let waitsMoved = false;
      for (const { event } of events) {
        if (
          event.type === 'step-paused' ||
          event.type === 'operator-action' ||
          event.type === 'execution-finished' ||
          (event.type === 'step-started' && String(event.step).startsWith('action/')) ||
          (event.type === 'step-finished' && String(event.step).startsWith('action/'))
        )
          waitsMoved = true;
      }
      if (waitsMoved) {
        reloadWaits();
        reloadVms();
      }
      setTick((t) => t + 1);
    },
    [model, reloadWaits, reloadVms],
  );
  useEffect(() => {
    const live = follow(`/api/v1/executions/${enc(id)}/events?batch=1`, {
      types: EVENT_TYPES,
      keep: KEEP,
      onEvents,
      onState: setStream,
    });
    return () => live.close();
  }, [id, onEvents]);
  useEffect(() => {
    if (model.endedAt !== undefined) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [model, model.endedAt]);
  const counts = model.phaseCounts();
  const elapsed = model.startedAt === undefined ? undefined : (model.endedAt ?? now) - model.startedAt;
  const wave = model.endedAt === undefined ? model.derivedWave() : undefined;
  return (
    <section
      data-testid="execution"
      data-status={model.status}
      data-ended={model.endedAt === undefined ? 'no' : 'yes'}
      data-events={model.applied}
      data-stream={stream}
    >
      <h2>
        <a href="#/executions">Executions</a> / {id}
      </h2>
      {vms.error && <p class="error">{vms.error}</p>}
      <div class="summary">
        <div class="figure">
          <b data-testid="status">
            <span class={`badge ${model.status}`}>{model.status || '…'}</span>
          </b>
          status ({stream})
        </div>
        <div class="figure">
          <b data-testid="current-wave">{wave === undefined || wave < 0 ? '—' : wave}</b>current wave
        </div>
        <div class="figure">
          <b data-testid="elapsed">{ms(elapsed)}</b>elapsed, estimate {ms(model.estimateMs)}
        </div>
        <div class="figure">
          <b data-testid="ready-count">{counts.get('ready') ?? 0}</b>ready of {model.tracks.size}
        </div>
        <div class="figure">
          <b data-testid="failed-count">{counts.get('failed') ?? 0}</b>failed
        </div>
      </div>
      <Controls
        id={id}
        allowed={allowed.data ?? vms.data?.allowed ?? []}
        waits={waits.data}
        status={model.status}
        onDone={() => {
          reloadWaits();
          reloadVms();
        }}
      />
      <Timeline model={model} tick={tick} />
    </section>
  );
}
