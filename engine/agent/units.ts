/**
 * The units an agent runs: each with the step handlers (engine/executor runStepJob) against the
 * site's hosts. What the handlers write goes into the unit's report instead of Redis: its events,
 * its sightings (reads answered from the snapshot the control plane handed with the unit, writes
 * recorded as ops), and the action memo, which must be in the vault before a script starts (a re-run
 * after a dead agent is counted), goes through the link at once. A unit handed again while it runs
 * (a control plane took over the job, or a poll's answer was resent) is not run twice: the second
 * handing attaches to the running one, or gets the report of the finished one again.
 */
import type { Logger } from '../common/index.ts';
import type {
  ExecutionEvent,
  HandedUnit,
  PrimarySighting,
  SightingOp,
  StepJobData,
  StepResult,
  UnitProgress,
  UnitReport,
} from '../contract/index.ts';
import {
  type ActionMemo,
  type ActionRunMark,
  lazyChild,
  parseStepJobData,
  type resolveHandlerOptions,
  runStepJob,
} from '../executor/index.ts';
import type { HostDriver } from '../hosts/index.ts';
import type { SightingStore } from '../locks/index.ts';
import type { AgentLink } from './link.ts';

/** Reports of finished units kept to answer a repeated handing (the newest this many). */
const FINISHED_KEPT = 5000;

export interface UnitPoolOptions {
  api: HostDriver;
  link: AgentLink;
  handlers: ReturnType<typeof resolveHandlerOptions>;
  /** Units run at once. */
  concurrency: number;
  log: Logger;
  /** A unit ended: its report is ready to post. */
  onReport(report: UnitReport): void;
  /** A running unit wrote events (sent ahead of its report by `takeProgress`). */
  onEvents(): void;
}

export interface UnitPool {
  /** Start (or attach to) a handed unit. */
  accept(unit: HandedUnit): void;
  /** Slots free now. */
  free(): number;
  /** Resolves when a slot frees (or at once when one is free). */
  slotFreed(): Promise<void>;
  /** Ids of the units running now. */
  runningIds(): string[];
  /** The events running units wrote since the last call: sent ahead, so that the log shows them live. */
  takeProgress(): UnitProgress[];
  /** Resolves when every running unit ended, or after `ms`: then they are aborted. */
  drain(ms: number): Promise<void>;
}

export function createUnitPool(options: UnitPoolOptions): UnitPool {
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  const finished = new Map<string, UnitReport>();
  // The events of each running unit, and how many of them went ahead already.
  const live = new Map<string, { events: ExecutionEvent[]; sent: number }>();
  let freed: (() => void) | undefined;

  const run = async (handed: HandedUnit, signal: AbortSignal): Promise<UnitReport | undefined> => {
    const events: ExecutionEvent[] = [];
    const state = { events, sent: 0 };
    live.set(handed.id, state);
    const sightings = bufferedSightings(handed);
    let data: StepJobData;
    try {
      data = parseStepJobData(handed.data, handed.id);
    } catch (error) {
      return badUnit(handed, error as Error);
    }
    // Made only when the unit logs (pino serializes a child's bindings when it is made).
    const log = lazyChild(options.log, { execution: data.execution, job: handed.id, vm: data.vm });
    const memo = linkMemo(options.link, handed, events, signal);
    try {
      const ran = await runStepJob(handed.id, data, {
        api: options.api,
        log,
        events: {
          append: async (batch) => {
            events.push(...batch);
            options.onEvents();
          },
        },
        memo,
        sightings: sightings.store,
        options: options.handlers,
        signal,
        late: handed.late,
        lateFailedOver: handed.lateFailedOver,
      });
      return {
        unit: handed.id,
        execution: data.execution,
        ...(data.vm === undefined ? {} : { vm: data.vm }),
        result: ran.result,
        ...(ran.unrecoverable === undefined
          ? {}
          : { unrecoverable: { code: ran.unrecoverable.code, message: ran.unrecoverable.message } }),
        // What did not go ahead as progress; taken in the same tick as the unit leaves `live`.
        events: events.slice(state.sent) as UnitReport['events'],
        sightings: sightings.ops,
      };
    } catch (error) {
      // Aborted at shutdown: no report; the control plane hands it again once this session is gone.
      if (signal.aborted) return undefined;
      throw error;
    } finally {
      live.delete(handed.id);
    }
  };

  const remember = (report: UnitReport): void => {
    finished.set(report.unit, report);
    if (finished.size > FINISHED_KEPT) finished.delete(finished.keys().next().value ?? '');
  };

  return {
    accept: (handed) => {
      if (running.has(handed.id)) {
        options.log.debug({ unit: handed.id }, 'unit handed again while it runs: attached to the run');
        return;
      }
      const known = finished.get(handed.id);
      if (known !== undefined) {
        options.log.debug({ unit: handed.id }, 'unit handed again after it ended: its report again');
        options.onReport(known);
        return;
      }
      const controller = new AbortController();
      const done = run(handed, controller.signal)
        .then((report) => {
          if (report === undefined) return;
          remember(report);
          options.onReport(report);
        })
        .catch((error: unknown) => options.log.error({ err: error, unit: handed.id }, 'unit crashed'))
        .finally(() => {
          running.delete(handed.id);
          const wake = freed;
          freed = undefined;
          wake?.();
        });
      running.set(handed.id, { controller, done });
    },
    free: () => Math.max(0, options.concurrency - running.size),
    slotFreed: () =>
      running.size < options.concurrency
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const before = freed;
            freed = () => {
              before?.();
              resolve();
            };
          }),
    runningIds: () => [...running.keys()],
    takeProgress: () => {
      const out: UnitProgress[] = [];
      for (const [unit, state] of live) {
        if (state.events.length <= state.sent) continue;
        out.push({ unit, events: state.events.slice(state.sent) as UnitProgress['events'] });
        state.sent = state.events.length;
      }
      return out;
    },
    drain: async (ms) => {
      const all = Promise.all([...running.values()].map((r) => r.done));
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
      if ((await Promise.race([all, timer])) === 'timeout') {
        for (const r of running.values()) r.controller.abort(new Error('agent shutting down'));
        await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
      }
    },
  };
}

/** A unit whose data this agent cannot read (a version skew): its first step fails, the rest skipped. */
function badUnit(handed: HandedUnit, error: Error): UnitReport {
  const data = handed.data as { execution?: unknown; vm?: unknown; steps?: unknown };
  const steps = Array.isArray(data.steps) ? data.steps.filter((s): s is string => typeof s === 'string') : [];
  const at = new Date().toISOString();
  const results: StepResult[] = steps.map((id, i) =>
    i === 0
      ? {
          id,
          outcome: 'failed',
          startedAt: at,
          endedAt: at,
          error: { code: 'BAD_JOB', message: error.message, retryable: false },
        }
      : { id, outcome: 'skipped', startedAt: at, endedAt: at },
  );
  return {
    unit: handed.id,
    execution: typeof data.execution === 'string' ? data.execution : '',
    ...(typeof data.vm === 'string' ? { vm: data.vm } : {}),
    result: { v: 1, steps: results },
    events: [],
    sightings: [],
  };
}

/**
 * The unit's sightings: reads from the snapshot handed with it (as changed by the unit's own
 * writes), writes kept as ops for the control plane to apply (it re-checks `off … read` against the
 * vault, as the store does).
 */
function bufferedSightings(handed: HandedUnit): { store: SightingStore; ops: SightingOp[] } {
  const state = new Map<string, PrimarySighting>(
    Object.entries(handed.sightings).map(([site, seen]) => [site, { ...seen }]),
  );
  const ops: SightingOp[] = [];
  const at = (site: string): PrimarySighting => {
    const seen = state.get(site) ?? {};
    state.set(site, seen);
    return seen;
  };
  const store: SightingStore = {
    running: async (site, vm, time) => {
      ops.push({ op: 'running', site, vm, at: time });
      at(site).runningAt = time;
    },
    off: async (site, vm, time, by) => {
      const seen = at(site);
      if (by === 'read') {
        const still =
          seen.off !== undefined &&
          (seen.runningAt === undefined || Date.parse(seen.off.at) >= Date.parse(seen.runningAt));
        if (still) return;
      }
      ops.push({ op: 'off', site, vm, at: time, by });
      seen.off = { at: time, by };
    },
    started: async (site, vm) => {
      ops.push({ op: 'started', site, vm });
      delete at(site).off;
    },
    // The site's heartbeat comes from the agent's own heartbeats (agent.ts), not from units.
    heartbeat: async () => {},
    read: async (site, vms) => new Map(vms.map((vm) => [vm, { ...(state.get(site) ?? {}) }])),
  };
  return { store, ops };
}

/** The action memo through the control plane (so it is in the vault before a script runs). */
function linkMemo(
  link: AgentLink,
  handed: HandedUnit,
  events: ExecutionEvent[],
  signal: AbortSignal,
): ActionMemo {
  const id = handed.id;
  return {
    done: async (step) => {
      const reply = await link.memo(id, step, { op: 'done' }, signal);
      return reply.done as StepResult | undefined;
    },
    begin: async (step, mark) => {
      const reply = await link.memo(id, step, { op: 'begin', mark }, signal);
      return {
        runs: reply.runs ?? 1,
        ...(reply.interrupted === undefined
          ? {}
          : { interrupted: reply.interrupted as unknown as ActionRunMark }),
      };
    },
    spawned: async (step, group) => {
      await link.memo(id, step, { op: 'spawned', group }, signal);
    },
    end: async (step, result) => {
      await link.memo(id, step, { op: 'end', ...(result === undefined ? {} : { result }) }, signal);
    },
    note: async (event) => {
      events.push(event as ExecutionEvent);
    },
    vmsOf: async () => handed.actionVms ?? [],
  };
}
