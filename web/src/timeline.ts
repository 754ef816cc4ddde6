/**
 * An execution's timeline: one row per VM, grouped by wave, each row the VM's phases as coloured
 * spans; actions, approvals and operator commands as markers; the current wave, now and the
 * estimate as lines. The model takes the event log (vm-phase, step-*, operator-action,
 * execution-finished events) in any slice size; the drawing is on one canvas and draws only the
 * rows in view, so 10,000 VMs cost what 40 do (a DOM timeline slows down near 1,000 items).
 */

import type { VmColumns } from './rows.ts';

export const PHASE_COLOURS: Record<string, string> = {
  waiting: '#d0d4da',
  'shutting-down': '#f0a030',
  'failing-over': '#3080e0',
  booting: '#8060d0',
  'awaiting-readiness': '#20a0b0',
  ready: '#30a050',
  failed: '#d03030',
  'cleaning-up': '#a0a0a0',
  'cleaned-up': '#707070',
  committing: '#508050',
  committed: '#306030',
  'rolling-back': '#c07030',
  'rolled-back': '#905020',
  reprotecting: '#6090c0',
  protected: '#406080',
};

export const PHASE_LABELS: [string, string][] = [
  ['waiting', 'waiting'],
  ['shutting-down', 'shutting down'],
  ['failing-over', 'failing over'],
  ['booting', 'booting'],
  ['awaiting-readiness', 'awaiting readiness'],
  ['ready', 'ready'],
  ['failed', 'failed'],
];

export interface Marker {
  at: number;
  kind: 'action' | 'approval' | 'command' | 'paused';
  label: string;
  vm?: string;
}

interface VmTrack {
  vm: string;
  wave: number;
  /** Phase changes: times (ms) and phases, in order. */
  times: number[];
  phases: string[];
}

export type Row = { kind: 'wave'; wave: number; count: number } | { kind: 'vm'; track: VmTrack };

export class TimelineModel {
  readonly tracks = new Map<string, VmTrack>();
  readonly markers: Marker[] = [];
  startedAt: number | undefined;
  endedAt: number | undefined;
  status = '';
  currentWave: number | undefined;
  estimateMs: number | undefined;
  /** Bumped on every change: the drawing redraws when it moved. */
  version = 0;
  /** Events applied so far (each once, a resumed stream included). */
  applied = 0;
  private rowsCache: Row[] | undefined;
  private readonly counts = new Map<string, number>();

  /** The VMs and their waves, from the execution's rows (`/executions/:id/vms`). */
  setVms(rows: VmColumns): void {
    const fallback = this.startedAt ?? Date.now();
    for (let i = 0; i < rows.vm.length; i++) {
      const vm = rows.vm[i]!;
      const wave = rows.wave[i]!;
      let track = this.tracks.get(vm);
      if (track === undefined) {
        const state = rows.states[rows.state[i]!]!;
        const at = rows.startedAt[i]!;
        track = { vm, wave, times: [Number.isNaN(at) ? fallback : at], phases: [state] };
        this.tracks.set(vm, track);
        this.count(state, +1);
      } else track.wave = wave;
    }
    this.rowsCache = undefined;
    this.version++;
  }

  private count(phase: string | undefined, delta: number): void {
    if (phase === undefined) return;
    this.counts.set(phase, (this.counts.get(phase) ?? 0) + delta);
  }

  phaseCounts(): Map<string, number> {
    return this.counts;
  }

  /** `skipped`: events of the log left out before these (none the model folds), counted as applied. */
  apply(events: { type: string; at?: string; [key: string]: unknown }[], skipped = 0): void {
    this.applied += events.length + skipped;
    for (const event of events) {
      const at = event.at === undefined ? Date.now() : Date.parse(event.at);
      switch (event.type) {
        case 'execution-submitted':
          this.startedAt ??= at;
          break;
        case 'execution-started':
          this.startedAt ??= at;
          if (this.status === '' || this.status === 'queued') this.status = 'running';
          break;
        case 'vm-phase': {
          const vm = String(event.vm);
          const phase = String(event.phase);
          let track = this.tracks.get(vm);
          if (track === undefined) {
            track = { vm, wave: this.currentWave ?? -1, times: [], phases: [] };
            this.tracks.set(vm, track);
            this.rowsCache = undefined;
          }
          this.count(track.phases.at(-1), -1);
          track.times.push(at);
          track.phases.push(phase);
          this.count(phase, +1);
          break;
        }
        case 'step-started': {
          const step = String(event.step);
          if (step.startsWith('action/')) this.markers.push({ at, kind: 'action', label: step.slice(7) });
          break;
        }
        case 'step-paused':
          this.markers.push({ at, kind: 'paused', label: `${String(event.step)} paused` });
          break;
        case 'operator-action': {
          const command = String(event.command);
          this.markers.push({
            at,
            kind: command === 'approve' ? 'approval' : 'command',
            label: `${command} ${String(event.step)} by ${String(event.by)}`,
          });
          break;
        }
        case 'execution-status':
          if (typeof event.status === 'string') this.status = event.status;
          break;
        case 'execution-finished':
          this.status = String(event.status);
          this.endedAt = at;
          break;
      }
    }
    this.version++;
  }

  /** The lowest wave with a VM not yet at its end (ready or failed); the server's before any VM moved. */
  derivedWave(): number | undefined {
    let wave: number | undefined;
    let moved = false;
    for (const track of this.tracks.values()) {
      const phase = track.phases.at(-1);
      if (phase !== 'waiting') moved = true;
      if (track.wave < 0 || phase === 'ready' || phase === 'failed' || phase === 'cleaned-up') continue;
      if (wave === undefined || track.wave < wave) wave = track.wave;
    }
    return moved ? (wave ?? this.currentWave) : this.currentWave;
  }

  /** Wave headers and VM rows, waves in order, VMs in the order they were named. */
  rows(): Row[] {
    if (this.rowsCache !== undefined) return this.rowsCache;
    const byWave = new Map<number, VmTrack[]>();
    for (const track of this.tracks.values()) {
      const list = byWave.get(track.wave);
      if (list === undefined) byWave.set(track.wave, [track]);
      else list.push(track);
    }
    const rows: Row[] = [];
    for (const wave of [...byWave.keys()].sort((a, b) => a - b)) {
      const list = byWave.get(wave) ?? [];
      rows.push({ kind: 'wave', wave, count: list.length });
      for (const track of list) rows.push({ kind: 'vm', track });
    }
    this.rowsCache = rows;
    return rows;
  }

  /** The VM's phase now. */
  phaseOf(vm: string): string | undefined {
    return this.tracks.get(vm)?.phases.at(-1);
  }
}

export const ROW_HEIGHT = 18;
const LABEL_WIDTH = 160;
const MARKER_LANE = 22;

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400].map((v) => v * 1000);

function tickLabel(ms: number): string {
  if (ms < 60_000) return `+${ms / 1000} s`;
  if (ms < 3_600_000) return `+${ms / 60_000} m`;
  return `+${ms / 3_600_000} h`;
}

export interface DrawOptions {
  width: number;
  height: number;
  scrollTop: number;
  now: number;
  dpr: number;
}

/** Draw the rows in view of `model` on `ctx`. */
export function drawTimeline(ctx: CanvasRenderingContext2D, model: TimelineModel, o: DrawOptions): void {
  const { width, height, dpr } = o;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  const start = model.startedAt ?? o.now;
  const end = Math.max(
    model.endedAt ?? o.now,
    model.estimateMs === undefined ? 0 : start + model.estimateMs * 1.05,
    start + 10_000,
  );
  const plotX = LABEL_WIDTH;
  const plotW = Math.max(10, width - LABEL_WIDTH - 8);
  const x = (t: number): number => plotX + ((t - start) / (end - start)) * plotW;
  const rows = model.rows();
  const first = Math.max(0, Math.floor(o.scrollTop / ROW_HEIGHT));
  const visible = Math.ceil((height - MARKER_LANE) / ROW_HEIGHT) + 1;
  const rowEnd = model.endedAt ?? o.now;
  const wave = model.endedAt === undefined ? model.derivedWave() : undefined;
  for (let i = first; i < Math.min(rows.length, first + visible); i++) {
    const row = rows[i]!;
    const y = MARKER_LANE + i * ROW_HEIGHT - o.scrollTop;
    if (row.kind === 'wave') {
      const current = wave === row.wave;
      ctx.fillStyle = current ? '#fff4d0' : '#eef1f5';
      ctx.fillRect(0, y, width, ROW_HEIGHT);
      ctx.fillStyle = '#223';
      ctx.fillText(
        `${row.wave < 0 ? 'wave ?' : `wave ${row.wave}`} · ${row.count} VMs${current ? ' · current' : ''}`,
        6,
        y + ROW_HEIGHT / 2,
      );
      continue;
    }
    const { track } = row;
    ctx.fillStyle = '#223';
    ctx.fillText(track.vm.length > 24 ? `${track.vm.slice(0, 23)}…` : track.vm, 6, y + ROW_HEIGHT / 2);
    for (let p = 0; p < track.phases.length; p++) {
      const from = track.times[p]!;
      const to = p + 1 < track.phases.length ? track.times[p + 1]! : rowEnd;
      const x0 = x(from);
      const x1 = Math.max(x0 + 1, x(to));
      ctx.fillStyle = PHASE_COLOURS[track.phases[p]!] ?? '#999';
      ctx.fillRect(x0, y + 3, x1 - x0, ROW_HEIGHT - 6);
    }
  }
  // The marker lane, drawn last so it stays on top of the rows scrolled under it.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, MARKER_LANE);
  ctx.fillStyle = '#556';
  ctx.fillText('markers · time', 6, MARKER_LANE / 2);
  // Time since the start: a tick every "nice" step, about one per 120 px.
  const span = end - start;
  const step = STEPS.find((s) => (s / span) * plotW >= 120) ?? STEPS.at(-1)!;
  ctx.textAlign = 'center';
  for (let t = step; t < span; t += step) {
    const tx = x(start + t);
    ctx.fillStyle = '#e6e9ee';
    ctx.fillRect(tx, MARKER_LANE, 1, height);
    ctx.fillStyle = '#889';
    ctx.fillText(tickLabel(t), tx, MARKER_LANE - 5);
  }
  ctx.textAlign = 'start';
  for (const marker of model.markers) {
    const mx = x(marker.at);
    ctx.fillStyle =
      marker.kind === 'approval'
        ? '#30a050'
        : marker.kind === 'paused'
          ? '#d03030'
          : marker.kind === 'action'
            ? '#e08020'
            : '#3060c0';
    ctx.beginPath();
    ctx.moveTo(mx - 5, 4);
    ctx.lineTo(mx + 5, 4);
    ctx.lineTo(mx, 14);
    ctx.closePath();
    ctx.fill();
    ctx.globalAlpha = 0.35;
    ctx.fillRect(mx, MARKER_LANE, 1, height);
    ctx.globalAlpha = 1;
  }
  const line = (t: number, colour: string): void => {
    ctx.fillStyle = colour;
    ctx.fillRect(x(t), MARKER_LANE, 1.5, height);
  };
  if (model.endedAt === undefined) line(o.now, '#223');
  if (model.estimateMs !== undefined) line(start + model.estimateMs, '#c03090');
}

/** The marker under a point of the marker lane, for its tooltip. */
export function markerAt(model: TimelineModel, px: number, width: number, now: number): Marker | undefined {
  const start = model.startedAt ?? now;
  const end = Math.max(
    model.endedAt ?? now,
    model.estimateMs === undefined ? 0 : start + model.estimateMs * 1.05,
    start + 10_000,
  );
  const plotW = Math.max(10, width - LABEL_WIDTH - 8);
  let best: Marker | undefined;
  let bestD = 8;
  for (const marker of model.markers) {
    const d = Math.abs(LABEL_WIDTH + ((marker.at - start) / (end - start)) * plotW - px);
    if (d < bestD) {
      bestD = d;
      best = marker;
    }
  }
  return best;
}

export const MARKER_LANE_HEIGHT = MARKER_LANE;
