import type { Disk, WriteRun } from './model.ts';

/**
 * The seeded write workload as arithmetic: write k of a run is acknowledged at
 * since + k × 1000 / rate ms, so the highest acknowledged sequence number at any moment is exact
 * and O(1) to compute, and so is the way back (`ackTimeOf`: when a given write was acknowledged),
 * which is what a recovery point's time is: the time of the newest write it holds.
 */
export function seqAt(disk: Disk, at: number): number {
  if (disk.since === null) return disk.baseSeq;
  const elapsed = Math.max(0, at - disk.since);
  // The epsilon keeps exact products (e.g. 30000 ms × 10 / 1000) from flooring one low.
  return disk.baseSeq + Math.floor((elapsed * disk.rate) / 1000 + 1e-9) + disk.extra;
}

/** An empty disk whose guest writes `rate` per second once it runs. */
export function newDisk(rate: number): Disk {
  return { baseSeq: 0, since: null, rate, extra: 0, payloads: null, runs: [] };
}

export function startWriting(disk: Disk, at: number): void {
  if (disk.since !== null) return;
  disk.since = at;
  disk.extra = 0;
}

export function stopWriting(disk: Disk, at: number): void {
  if (disk.since === null) return;
  disk.lastRun = { since: disk.since, baseSeq: disk.baseSeq, stoppedAt: at };
  const toSeq = seqAt(disk, at);
  if (toSeq > disk.baseSeq) {
    disk.runs.push({
      fromSeq: disk.baseSeq,
      toSeq,
      since: disk.since,
      until: ackTimeInRun(disk.since, disk.baseSeq, disk.rate, disk.extra, toSeq),
      rate: disk.rate,
      extra: disk.extra,
    });
  }
  disk.baseSeq = toSeq;
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
  if (disk.since === null) {
    disk.runs.push({
      fromSeq: disk.baseSeq,
      toSeq: disk.baseSeq + 1,
      since: at,
      until: at,
      rate: disk.rate,
      extra: 0,
    });
    disk.baseSeq += 1;
  } else disk.extra += 1;
  const seq = seqAt(disk, at);
  disk.payloads ??= new Map();
  disk.payloads.set(seq, payload);
  return seq;
}

/**
 * When write `seq` was acknowledged (simulated ms), or null when unknown (seq 0: no write). Canary
 * writes are not placed exactly: the time returned is then never later than the true one, so a
 * recovery point is never claimed newer than its data.
 */
export function ackTimeOf(disk: Disk, seq: number): number | null {
  if (seq <= 0) return null;
  if (disk.since !== null && seq > disk.baseSeq)
    return ackTimeInRun(disk.since, disk.baseSeq, disk.rate, disk.extra, seq);
  for (let i = disk.runs.length - 1; i >= 0; i--) {
    const run = disk.runs[i]!;
    if (seq > run.fromSeq && seq <= run.toSeq)
      return Math.min(run.until, ackTimeInRun(run.since, run.fromSeq, run.rate, run.extra, seq));
  }
  // Written before any run this disk remembers: its time is not known.
  return null;
}

function ackTimeInRun(since: number, fromSeq: number, rate: number, extra: number, seq: number): number {
  // Write k of the steady stream is acknowledged at since + k × 1000 / rate; counting the run's
  // canaries as if they came first gives a time that is never later than the true one.
  const steady = Math.max(0, seq - fromSeq - extra);
  return since + Math.floor((steady * 1000) / rate + 1e-9);
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
  return { baseSeq: seq, since: null, rate, extra: 0, payloads, runs: runsUpTo(from, seq) };
}

/** The write runs of `from` that hold writes 1..seq, the last one cut at seq. */
function runsUpTo(from: Disk, seq: number): WriteRun[] {
  const all: WriteRun[] = [...from.runs];
  if (from.since !== null) {
    const open = Number.POSITIVE_INFINITY;
    all.push({
      fromSeq: from.baseSeq,
      toSeq: open,
      since: from.since,
      until: open,
      rate: from.rate,
      extra: from.extra,
    });
  }
  const runs: WriteRun[] = [];
  for (const run of all) {
    if (run.fromSeq >= seq) break;
    if (run.toSeq <= seq) runs.push(run);
    else {
      const until = Math.min(run.until, ackTimeInRun(run.since, run.fromSeq, run.rate, run.extra, seq));
      runs.push({ ...run, toSeq: seq, until });
    }
  }
  return runs;
}
