/**
 * The site agent's inventory reporter: reads the site's hosts through the host driver (reads
 * only) and sends the control plane what pre-flight and the dashboard need, as metadata.
 *
 * - A sweep every `pollMs` reads the VMs, hosts and networks (and recovery points where they may
 *   have changed) and sends one `changes` batch sequence: VMs whose record changed, VMs gone, and
 *   every VM not sent for a replication cycle (so the vault and its history hear of each VM at
 *   least once a cycle). A sweep with nothing to say still sends an empty batch: the vault's
 *   "as of" moves on.
 * - A `full` (in parts under the body cap) at start, after `reconnected()`, after any failed post,
 *   and when the vault answers 409 INVENTORY_RESYNC (it missed a batch).
 * - `refreshNow()` sweeps at once: what the agent calls when the control plane asks for a refresh
 *   (GET /api/v1/agents/:site/inventory/refresh, or a batch answer with `refresh: true`).
 */
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import type { Logger } from '../common/index.ts';
import { DrError } from '../common/index.ts';
import {
  BATCH_VMS_MAX,
  type BatchAnswer,
  INVENTORY_BATCH_BYTES,
  type InventoryBatch,
  RESYNC_CODE,
  type WireVm,
} from '../control/inventory/index.ts';
import type { HostDriver, RecoveryPoint } from '../hosts/index.ts';
import { type Sized, sized, splitBatches, wireHost, wireNetwork, wireVm } from './inventory-records.ts';

export interface InventoryReporterOptions {
  /** The site's host driver; only its reads are called. */
  driver: Pick<HostDriver, 'now' | 'listVMs' | 'listHosts' | 'listNetworks' | 'getRecoveryPoints'>;
  site: string;
  /** POSTs a JSON body to the control plane (engine/client's requester); rejects with its DrError. */
  post: (path: string, body: unknown) => Promise<unknown>;
  log: Logger;
  /** Every VM is sent at least once per cycle, changed or not. @defaultValue 30_000 */
  cycleMs?: number;
  /** How often the site is read for changes. @defaultValue cycleMs / 6 */
  pollMs?: number;
  /** Largest body sent. @defaultValue INVENTORY_BATCH_BYTES (512 KiB) */
  maxBatchBytes?: number;
  /** Recovery-point reads in flight. @defaultValue 32 */
  concurrency?: number;
  /** Agent's clock, ms (when each VM was last sent). @defaultValue Date.now */
  clock?: () => number;
}

export interface InventoryReporter {
  /** Sweep now (after the sweep under way); resolves when its batches were acknowledged. */
  refreshNow(): Promise<void>;
  /** The link to the control plane came back: the next sweep is a full. */
  reconnected(): void;
  readonly stats: Readonly<{ sweeps: number; batches: number; fulls: number; bytes: number }>;
  close(): Promise<void>;
}

interface Known {
  /** The record without its points, as JSON: what "changed" compares. */
  key: string;
  pointsKey: string;
  points: RecoveryPoint[];
  sentAt: number;
}

type Item = { vm: WireVm } | { gone: string };

export function startInventoryReporter(options: InventoryReporterOptions): InventoryReporter {
  const { driver, site, log } = options;
  const cycleMs = options.cycleMs ?? 30_000;
  const pollMs = options.pollMs ?? Math.max(1, Math.round(cycleMs / 6));
  const maxBytes = options.maxBatchBytes ?? INVENTORY_BATCH_BYTES;
  const clock = options.clock ?? Date.now;
  // Re-sent at the sweep before its cycle runs out, so no VM goes a whole cycle unsent.
  const resendAfterMs = cycleMs - Math.min(pollMs, cycleMs / 2);
  const limit = pLimit(options.concurrency ?? 32);
  const path = `/api/v1/agents/${encodeURIComponent(site)}/inventory`;
  const known = new Map<string, Known>();
  let hostsKey = '';
  let networksKey = '';
  let needFull = true;
  let session = '';
  let seq = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let again = false;
  const stats = { sweeps: 0, batches: 0, fulls: 0, bytes: 0 };

  async function send(batch: InventoryBatch): Promise<BatchAnswer> {
    stats.batches++;
    stats.bytes += Buffer.byteLength(JSON.stringify(batch));
    return (await options.post(path, batch)) as BatchAnswer;
  }

  async function readPoints(name: string): Promise<RecoveryPoint[] | undefined> {
    try {
      return await driver.getRecoveryPoints(site, name);
    } catch (error) {
      // Gone between the list and this read (or its host went down): left out of this sweep.
      log.debug({ vm: name, err: (error as Error).message }, 'recovery points not read');
      return undefined;
    }
  }

  async function sweep(): Promise<void> {
    const full = needFull;
    const now = clock();
    const hostMs = Date.parse(await driver.now());
    const hostTime = new Date(hostMs).toISOString();
    const [views, hosts, networks] = await Promise.all([
      driver.listVMs(site),
      driver.listHosts(site),
      driver.listNetworks(site),
    ]);
    const seen = new Set<string>();
    const next = new Map<string, Known>();
    const items: Sized<Item>[] = [];
    await Promise.all(
      views.map((view) =>
        limit(async () => {
          const before = full ? undefined : known.get(view.name);
          const record = wireVm(view, hostMs, []);
          const key = JSON.stringify(record);
          const due = before === undefined || before.key !== key || now - before.sentAt >= resendAfterMs;
          // Points change with a replication cycle or a failover, both of which change the record
          // or make it due: read them only then.
          const points = due ? await readPoints(view.name) : before.points;
          if (points === undefined) return;
          seen.add(view.name);
          // The latest point travels in the record; the key is the hourly list only.
          const pointsKey = JSON.stringify(points.filter((p) => p.kind !== 'latest'));
          next.set(view.name, { key, pointsKey, points, sentAt: due ? now : (before?.sentAt ?? now) });
          if (!due) return;
          const { points: listed, ...rest } = wireVm(view, hostMs, points);
          const withPoints = before === undefined || before.pointsKey !== pointsKey;
          items.push(sized<Item>({ vm: withPoints ? { ...rest, points: listed } : rest }));
        }),
      ),
    );
    if (!full) for (const name of known.keys()) if (!seen.has(name)) items.push(sized<Item>({ gone: name }));
    const wireHosts = hosts.map(wireHost);
    const wireNetworks = networks.map(wireNetwork);
    const hostsChanged = full || JSON.stringify(wireHosts) !== hostsKey;
    const networksChanged = full || JSON.stringify(wireNetworks) !== networksKey;
    const listsBytes =
      (hostsChanged ? Buffer.byteLength(JSON.stringify(wireHosts)) : 0) +
      (networksChanged ? Buffer.byteLength(JSON.stringify(wireNetworks)) : 0);
    const groups = splitBatches(items, {
      maxBytes,
      maxItems: BATCH_VMS_MAX,
      overhead: 256,
      firstOverhead: 256 + listsBytes,
    });
    if (full) {
      session = randomBytes(9).toString('base64url');
      seq = 0;
      stats.fulls++;
    }
    for (const [part, group] of groups.entries()) {
      const vms = group.flatMap((item) => ('vm' in item ? [item.vm] : []));
      const lists = part === 0 && {
        ...(hostsChanged ? { hosts: wireHosts } : {}),
        ...(networksChanged ? { networks: wireNetworks } : {}),
      };
      const batch: InventoryBatch = full
        ? { kind: 'full', session, seq: ++seq, hostTime, part, parts: groups.length, vms, ...lists }
        : {
            kind: 'changes',
            session,
            seq: ++seq,
            hostTime,
            vms,
            removed: group.flatMap((item) => ('gone' in item ? [item.gone] : [])),
            ...lists,
          };
      const answer = await send(batch);
      // Asked for a refresh while this sweep was under way: another one at once.
      if (answer.refresh && part === groups.length - 1) again = true;
    }
    // Only what the vault acknowledged counts as sent.
    known.clear();
    for (const [name, entry] of next) known.set(name, entry);
    hostsKey = JSON.stringify(wireHosts);
    networksKey = JSON.stringify(wireNetworks);
    needFull = false;
    stats.sweeps++;
  }

  async function guardedSweep(): Promise<void> {
    try {
      await sweep();
    } catch (error) {
      needFull = true;
      if (error instanceof DrError && error.code === RESYNC_CODE) {
        log.info({ site, reason: error.message }, 'the vault asks for a full inventory');
        await sweep();
        return;
      }
      throw error;
    }
  }

  function runOnce(): Promise<void> {
    // A sweep asked for now replaces the one the timer would start.
    clearTimeout(timer);
    const run = running.then(guardedSweep).finally(() => {
      schedule(again ? 0 : pollMs);
      again = false;
    });
    running = run.catch(() => undefined);
    return run;
  }

  function schedule(delayMs: number): void {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      runOnce().catch((error: unknown) => {
        // A post cut short by close (the agent stopping) is no news: nothing follows it.
        if (!closed) log.warn({ site, err: (error as Error).message }, 'inventory not sent; a full follows');
      });
    }, delayMs);
  }

  schedule(0);
  return {
    refreshNow: () => runOnce(),
    reconnected: () => {
      needFull = true;
    },
    stats,
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}
