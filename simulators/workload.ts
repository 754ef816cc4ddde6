import type { Disk } from './model.ts';

/**
 * The seeded write workload as arithmetic: write k of a run is acknowledged at
 * since + k × 1000 / rate ms, so the highest acknowledged sequence number at any moment is exact
 * and O(1) to compute.
 */
export function seqAt(disk: Disk, at: number): number {
  if (disk.since === null) return disk.baseSeq;
  const elapsed = Math.max(0, at - disk.since);
  // The epsilon keeps exact products (e.g. 30000 ms × 10 / 1000) from flooring one low.
  return disk.baseSeq + Math.floor((elapsed * disk.rate) / 1000 + 1e-9) + disk.extra;
}

export function startWriting(disk: Disk, at: number): void {
  if (disk.since !== null) return;
  disk.since = at;
  disk.extra = 0;
}

export function stopWriting(disk: Disk, at: number): void {
  if (disk.since === null) return;
  disk.lastRun = { since: disk.since, baseSeq: disk.baseSeq, stoppedAt: at };
  disk.baseSeq = seqAt(disk, at);
  disk.since = null;
  disk.extra = 0;
}

/**
 * When write `seq` was acknowledged (simulated ms), for the ledger: exact for a write of the
 * current or the last write run of the steady stream (canary writes aside), else undefined.
 */
export function writeTime(disk: Disk, seq: number): number | undefined {
  const run = disk.since !== null ? { since: disk.since, baseSeq: disk.baseSeq } : disk.lastRun;
  if (run === undefined || seq <= run.baseSeq || !(disk.rate > 0)) return undefined;
  return run.since + Math.ceil(((seq - run.baseSeq) * 1000) / disk.rate - 1e-6);
}

/** Acknowledge one extra write carrying `payload`; returns its sequence number. */
export function writeCanary(disk: Disk, at: number, payload: string): number {
  if (disk.since === null) disk.baseSeq += 1;
  else disk.extra += 1;
  const seq = seqAt(disk, at);
  disk.payloads ??= new Map();
  disk.payloads.set(seq, payload);
  return seq;
}

/** A disk holding the writes 1..seq of `from` (a replica's view, a recovery point, a test copy). */
export function diskFromPoint(from: Disk, seq: number, rate: number): Disk {
  let payloads: Map<number, string> | null = null;
  if (from.payloads) {
    for (const [s, p] of from.payloads) {
      if (s <= seq) {
        payloads ??= new Map();
        payloads.set(s, p);
      }
    }
  }
  return { baseSeq: seq, since: null, rate, extra: 0, payloads };
}
