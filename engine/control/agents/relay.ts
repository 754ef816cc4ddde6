/**
 * The relay: the control plane's unit runner for a site's BullMQ worker (engine/executor worker.ts
 * `runUnit`). The worker keeps everything Redis-side (late-fence state, events, result and follow
 * claims, sightings, action memo); instead of running the handlers against a host, the relay hands
 * the unit to the site's agent with what its handlers read (the VM's sightings, an action's VMs),
 * waits for the agent's report, and writes the events and sightings it carries through the worker's
 * sinks before the worker publishes the result. A report recorded already (the agent answered a
 * control plane that died since) is used as it is. The sightings of the units of one tick are read
 * in one HMGET per site, and a report's sighting writes go out together (in order, on the worker's
 * one connection), not one round trip each.
 */
import type {
  ExecutionEvent,
  HandedUnit,
  PrimarySighting,
  SightingOp,
  StepJobData,
  UnitReport,
} from '../../contract/index.ts';
import {
  StepError,
  type StepJobRun,
  type UnitRun,
  type UnitRunner,
  type UnitSinks,
} from '../../executor/index.ts';
import type { SightingStore } from '../../locks/index.ts';
import { type TickBatch, tickBatch } from './tick-batch.ts';

/** What the relay needs of the hub (hub.ts): hand a unit, wait for its report, drop it. */
export interface RelayHub {
  hand(site: string, unit: HandedUnit): Promise<UnitReport | undefined>;
  waitFor(site: string, unit: HandedUnit, signal: AbortSignal): Promise<UnitReport>;
  drop(site: string, id: string): Promise<void>;
}

export function relayUnitRunner(hub: RelayHub, site: string): UnitRunner {
  const readers = new WeakMap<SightingStore, TickBatch<string, PrimarySighting | undefined>>();
  const readerOf = (store: SightingStore): TickBatch<string, PrimarySighting | undefined> => {
    let reader = readers.get(store);
    if (reader === undefined) {
      reader = tickBatch(async (at, vms) => {
        const seen = await store.read(at, vms);
        return vms.map((vm) => seen.get(vm));
      });
      readers.set(store, reader);
    }
    return reader;
  };
  return async (unit, sinks) => {
    const handed = await handedUnit(unit, readerOf(sinks.sightings), sinks);
    unit.signal.throwIfAborted();
    const report = (await hub.hand(site, handed)) ?? (await hub.waitFor(site, handed, unit.signal));
    // Parsed (agent-protocol.ts) and checked against the unit (checks.ts) when accepted. An
    // action-rerun is an engine event, not a contract one; the sink's stream takes both.
    // Both before the result is published (what follows reads them), neither waiting for the other.
    await Promise.all([
      sinks.events.append(report.events as readonly ExecutionEvent[]),
      applySightings(sinks.sightings, report.sightings),
    ]);
    // Recorded in the worker's sinks: the unit need not be kept. Should this control plane die
    // before the result is published, the job runs again and the agent's dedupe answers.
    hub
      .drop(site, unit.id)
      .catch((error: unknown) => unit.log.debug({ err: error }, 'unit not dropped; its TTL ends it'));
    unit.log.debug({ unit: unit.id }, 'unit report applied');
    return runOf(report, unit.data);
  };
}

async function handedUnit(
  { id, data, late, lateFailedOver }: Pick<UnitRun, 'id' | 'data' | 'late' | 'lateFailedOver'>,
  read: TickBatch<string, PrimarySighting | undefined>,
  sinks: UnitSinks,
): Promise<HandedUnit> {
  const sightings: HandedUnit['sightings'] = {};
  if (data.vm !== undefined) {
    const vm = data.vm;
    const sites = [...new Set([data.site, data.fromSite, data.toSite].filter((s) => s !== ''))];
    const seen = await Promise.all(sites.map((s) => read(s, vm)));
    sites.forEach((s, i) => {
      const sighting = seen[i];
      if (sighting !== undefined) sightings[s] = sighting;
    });
  }
  const actionVms =
    data.action === undefined ? undefined : await sinks.memo.vmsOf?.(data.action).catch(() => undefined);
  return {
    id,
    data: data as unknown as Record<string, unknown>,
    late,
    lateFailedOver,
    sightings,
    ...(actionVms === undefined ? {} : { actionVms }),
  };
}

/**
 * In the order the handlers wrote them. The store sends each write when called, so writes issued
 * back to back reach Redis in order without waiting for each other; an `off … read` reads first,
 * so what comes before it is awaited, and it is, before what follows.
 */
async function applySightings(store: SightingStore, ops: readonly SightingOp[]): Promise<void> {
  let sent: Promise<void>[] = [];
  for (const op of ops) {
    switch (op.op) {
      case 'running':
        sent.push(store.running(op.site, op.vm, op.at));
        break;
      case 'off':
        if (op.by !== 'read') {
          sent.push(store.off(op.site, op.vm, op.at, op.by));
          break;
        }
        await Promise.all(sent);
        sent = [];
        await store.off(op.site, op.vm, op.at, op.by);
        break;
      case 'started':
        sent.push(store.started(op.site, op.vm));
        break;
    }
  }
  await Promise.all(sent);
}

function runOf(report: UnitReport, data: StepJobData): StepJobRun {
  const { result } = report;
  const run: StepJobRun = { result: { ...result } };
  if (report.unrecoverable !== undefined) {
    run.unrecoverable = new StepError(report.unrecoverable.code, report.unrecoverable.message, {
      step: data.steps[0] ?? '',
      site: data.site,
      ...(data.vm === undefined ? {} : { vm: data.vm }),
    });
  }
  return run;
}
