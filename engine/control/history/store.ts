/**
 * The Redis side of the inventory history: record() folds samples into each VM's fixed-size ring
 * with one Lua script per chunk of VMs (chunks sent back to back, so a call of thousands of
 * samples costs a round trip or two); read() and readMany() fetch rings with GET / MGET and decode
 * them in this process. Rings expire when a VM stops reporting.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DrError, InputError } from '../../common/index.ts';
import { DEFAULT_FUTURE_TOLERANCE_MS, type HistorySample, planBatch, type RecordCounts } from './batch.ts';
import { SERIES_BUCKETS } from './buckets.ts';
import { historyKey, RING_BYTES, SITE_FIELD_BYTES, SITE_OFFSET } from './layout.ts';
import { RECORD_SCRIPT } from './script.ts';
import { decodeSeries, type VmHistory } from './series.ts';

/** 24 h of history plus an hour, so a ring outlives its oldest bucket before it goes. */
export const DEFAULT_HISTORY_TTL_MS = 25 * 3_600_000;

/** The largest futureToleranceMs accepted. */
export const MAX_FUTURE_TOLERANCE_MS = 3_600_000;

export interface HistoryStoreOptions {
  /** Key prefix, as for the rest of the engine's keys. */
  prefix: string;
  /**
   * The clock that places the 24-hour window for record() and read() when a call gives no `now`.
   * @defaultValue Date.now
   */
  clock?: () => number;
  /**
   * How long a VM's ring lives after its last recorded sample, ms (refreshed on every write).
   * @defaultValue 25 h (DEFAULT_HISTORY_TTL_MS)
   */
  ttlMs?: number;
  /**
   * How far ahead of the clock a sample may be, ms (at most 1 h); later ones are counted as
   * `future`, not kept.
   * @defaultValue 5 min (one bucket)
   */
  futureToleranceMs?: number;
  /**
   * VMs per Lua script call: bigger chunks mean fewer round trips but a longer time for which
   * one script holds Redis (~1 ms per few hundred VMs).
   * @defaultValue 500
   */
  vmsPerScript?: number;
  /**
   * VMs per MGET in readMany().
   * @defaultValue 500
   */
  vmsPerRead?: number;
}

export interface HistoryStore {
  /** Fold samples (any number, any mix of VMs) into the history; checks them all before writing. */
  record(samples: readonly HistorySample[], options?: { now?: number }): Promise<RecordCounts>;
  /** One VM's last 24 hours: 288 points, oldest first. */
  read(vm: string, options?: { now?: number }): Promise<VmHistory>;
  /** Several VMs (a dashboard page), in the order given. */
  readMany(vms: readonly string[], options?: { now?: number }): Promise<VmHistory[]>;
}

export function createHistoryStore(redis: Redis, options: HistoryStoreOptions): HistoryStore {
  const prefix = options.prefix;
  const clock = options.clock ?? Date.now;
  const ttlMs = checkPositive('ttlMs', options.ttlMs ?? DEFAULT_HISTORY_TTL_MS);
  const futureToleranceMs = checkNonNegative(
    'futureToleranceMs',
    options.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS,
  );
  // a sample ahead of the window takes the slot of one of its oldest buckets: keep that to an hour
  if (futureToleranceMs > MAX_FUTURE_TOLERANCE_MS)
    throw new InputError(
      'HISTORY_OPTION_INVALID',
      `inventory history: futureToleranceMs must be at most ${MAX_FUTURE_TOLERANCE_MS} (1 h): a sample further ahead would overwrite the buckets of the day before it`,
    );
  const vmsPerScript = checkPositive('vmsPerScript', options.vmsPerScript ?? 500);
  const vmsPerRead = checkPositive('vmsPerRead', options.vmsPerRead ?? 500);
  if (typeof prefix !== 'string' || prefix.length === 0)
    throw new InputError('HISTORY_OPTION_INVALID', 'inventory history: prefix must be a non-empty string');
  const sha = createHash('sha1').update(RECORD_SCRIPT).digest('hex');
  const fixedArgs = [String(ttlMs), String(RING_BYTES), String(SITE_OFFSET), String(SITE_FIELD_BYTES)];

  async function runScript(keys: string[], args: (string | Buffer)[]): Promise<unknown> {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      // first use, or Redis restarted since: EVAL loads the script into the cache for next time
      if (!(error instanceof Error && error.message.includes('NOSCRIPT'))) throw error;
      return await redis.eval(RECORD_SCRIPT, keys.length, ...keys, ...args);
    }
  }

  return {
    async record(samples, callOptions = {}) {
      const { updates, counts } = planBatch(samples, callOptions.now ?? clock(), futureToleranceMs);
      const chunks = [];
      for (let start = 0; start < updates.length; start += vmsPerScript) {
        const chunk = updates.slice(start, start + vmsPerScript);
        const keys = chunk.map((u) => historyKey(prefix, u.vm));
        chunks.push(
          runScript(keys, [...fixedArgs, ...chunk.map((u) => u.packed)]).then((reply) => ({ chunk, reply })),
        );
      }
      for (const { chunk, reply } of await Promise.all(chunks)) {
        if (!Array.isArray(reply)) throw unexpectedReply(reply);
        for (const entry of reply) {
          const k = Math.floor(Number(entry) / SERIES_BUCKETS);
          const samplesThere = chunk[k]?.samplesBySlot.get(Number(entry) % SERIES_BUCKETS) ?? 0;
          counts.recorded -= samplesThere;
          counts.superseded += samplesThere;
        }
      }
      return counts;
    },

    async read(vm, callOptions = {}) {
      const ring = await redis.getBuffer(historyKey(prefix, vm));
      return decodeSeries(vm, ring, callOptions.now ?? clock());
    },

    async readMany(vms, callOptions = {}) {
      const now = callOptions.now ?? clock();
      const reads = [];
      for (let start = 0; start < vms.length; start += vmsPerRead) {
        const chunk = vms.slice(start, start + vmsPerRead);
        reads.push(redis.mgetBuffer(...chunk.map((vm) => historyKey(prefix, vm))));
      }
      const rings = (await Promise.all(reads)).flat();
      return vms.map((vm, i) => decodeSeries(vm, rings[i] ?? null, now));
    },
  };
}

function unexpectedReply(reply: unknown): DrError {
  return new DrError(
    'HISTORY_SCRIPT_REPLY',
    `inventory history: the record script answered ${JSON.stringify(reply)}, not a list; is the key prefix shared with something else?`,
  );
}

function checkPositive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new InputError('HISTORY_OPTION_INVALID', `inventory history: ${name} must be a positive number`);
  return value;
}

function checkNonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0)
    throw new InputError('HISTORY_OPTION_INVALID', `inventory history: ${name} must be 0 or more`);
  return value;
}
