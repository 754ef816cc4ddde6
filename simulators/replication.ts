import type { ReplicationHealth } from './api.ts';
import type { Link, Relationship, VmInstance } from './model.ts';
import { addHourlyPoint, clearPoints, firstPointBoundary } from './recovery-points.ts';
import { HOUR_MS } from './units.ts';
import { ackTimeOf, seqAt } from './workload.ts';

/**
 * Hyper-V Replica's cycle, as arithmetic per VM per cycle. Every `freqMs` the primary ships the
 * writes acknowledged since the last shipped one, bounded by its share of the link's bandwidth;
 * the replica applies what it received in the previous cycle (so `latestProcessed` lags `latest`
 * by one cycle) and turns an hourly boundary into a recovery point.
 */

export interface ReplicationEnv {
  /** Whether a host and its site are up. */
  hostUp(instance: VmInstance): boolean;
  errorAfterMs: number;
}

export function directionCounter(link: Link, from: string, to: string): { bytes: number } {
  const key = `${from}->${to}`;
  let counter = link.bytes.get(key);
  if (!counter) {
    counter = { bytes: 0 };
    link.bytes.set(key, counter);
  }
  return counter;
}

export function newRelationship(
  source: VmInstance,
  target: VmInstance,
  options: {
    extended: boolean;
    freqMs: number;
    phaseMs: number;
    link: Link | null;
    maxPoints: number;
    appConsistentEvery: number;
    now: number;
    receivedSeq: number;
  },
): Relationship {
  const rel: Relationship = {
    vm: source.vm,
    source,
    target,
    sourceHost: source.host,
    targetHost: target.host,
    extended: options.extended,
    freqMs: options.freqMs,
    phaseMs: options.phaseMs,
    link: options.link,
    linkBytes: options.link ? directionCounter(options.link, source.site, target.site) : null,
    state: 'Replicating',
    receivedSeq: options.receivedSeq,
    receivedAt: options.now,
    appliedSeq: options.receivedSeq,
    appliedAt: options.now,
    lastReplicationAt: options.now,
    failingSince: null,
    totalCycles: 0,
    missedCycles: 0,
    maxPoints: options.maxPoints,
    appConsistentEvery: options.appConsistentEvery,
    nextPointAt: firstPointBoundary(options.now),
    pointCounter: 0,
    points: [],
    resyncUntil: 0,
    resyncSeq: 0,
    resyncBytes: 0,
    bucket: null,
  };
  // A relationship that starts behind its source (a reverse after the new primary ran) holds data
  // as of its newest write, not as of now.
  rel.receivedAt = dataTime(rel, rel.receivedSeq, options.now);
  rel.appliedAt = rel.receivedAt;
  return rel;
}

/**
 * How old the data in writes 1..seq of this relationship's source is: as of `now` when they are
 * everything the source has, else as of the acknowledgement of write `seq`.
 */
function dataTime(rel: Relationship, seq: number, now: number): number {
  if (seq >= sourceSeq(rel, now)) return sourceTime(rel, now);
  return ackTimeOf(originOf(rel).disk, seq) ?? now;
}

/** The time of the data the source can ship (`sourceSeq`): now for a primary, what a replica applied. */
function sourceTime(rel: Relationship, now: number): number {
  const s = rel.source;
  if (s.incoming !== null && s.failoverStage === null && s.role !== 'Primary') return s.incoming.appliedAt;
  return now;
}

/** Whether cycles are due at all (a stopped or paused relationship neither ships nor misses). */
export function cycling(rel: Relationship): boolean {
  return rel.state === 'Replicating' || rel.state === 'Error' || rel.state === 'Resynchronizing';
}

/**
 * The highest sequence number the source can ship: a primary's acknowledged writes, or, for
 * extended replication from a replica, what that replica has applied.
 */
export function sourceSeq(rel: Relationship, t: number): number {
  const s = rel.source;
  if (s.incoming !== null && s.failoverStage === null && s.role !== 'Primary') return s.incoming.appliedSeq;
  return seqAt(s.disk, t);
}

/** The instance whose disk holds the writes this relationship carries (canary payloads live there). */
export function originOf(rel: Relationship): VmInstance {
  let s = rel.source;
  while ((s.role === 'Replica' || s.role === 'ExtendedReplica') && s.failoverStage === null && s.incoming) {
    s = s.incoming.source;
  }
  return s;
}

export function pathUp(_env: ReplicationEnv, rel: Relationship): boolean {
  const s = rel.sourceHost;
  const t = rel.targetHost;
  return (
    s.powered && s.siteRef.powered && t.powered && t.siteRef.powered && (rel.link === null || rel.link.up)
  );
}

export function runCycle(env: ReplicationEnv, rel: Relationship, t: number): void {
  if (rel.state === 'Suspended') {
    // Paused: nothing ships and no cycle is counted, but the change log still grows.
    if (env.hostUp(rel.source)) checkResyncRequired(rel, t);
    return;
  }
  if (!cycling(rel)) return;
  const source = rel.source;
  if (!pathUp(env, rel)) {
    rel.totalCycles++;
    rel.missedCycles++;
    rel.failingSince ??= t;
    if (t - rel.failingSince >= env.errorAfterMs) rel.state = 'Error';
    checkResyncRequired(rel, t);
    skipPointsTo(rel, t);
    return;
  }
  if (rel.state === 'Resynchronizing') {
    if (t < rel.resyncUntil) return;
    rel.receivedSeq = rel.resyncSeq;
    rel.appliedSeq = rel.resyncSeq;
    // The resync copied the disk as it was when it began: its data is that old.
    rel.receivedAt = dataTime(rel, rel.resyncSeq, t);
    rel.appliedAt = rel.receivedAt;
    rel.state = 'Replicating';
  }
  rel.totalCycles++;
  const primarySeq = sourceSeq(rel, t);
  const pending = primarySeq - rel.receivedSeq;
  const bpw = source.bytesPerWrite;
  let shipped = pending;
  const link = rel.link;
  if (link !== null) {
    const budget = Math.floor(
      (link.bandwidthBytesPerSec * rel.freqMs) / 1000 / Math.max(1, link.active) / bpw,
    );
    if (budget < shipped) shipped = budget;
    if (shipped > 0 && rel.linkBytes) rel.linkBytes.bytes += shipped * bpw;
  }
  rel.appliedSeq = rel.receivedSeq;
  rel.appliedAt = rel.receivedAt;
  rel.receivedSeq += shipped;
  if (shipped < pending) {
    // The log of this interval did not reach the replica within the interval: a missed cycle.
    // What did arrive is as new as its newest write, and LastReplicationTime (the last cycle
    // that succeeded) stays where it was.
    if (shipped > 0) rel.receivedAt = dataTime(rel, rel.receivedSeq, t);
    rel.missedCycles++;
    checkResyncRequired(rel, t);
  } else {
    // Everything the source had arrived: the replica holds its data as of now (for an extended
    // replica, as of what the replica had applied).
    rel.receivedAt = sourceTime(rel, t);
    rel.lastReplicationAt = t;
    rel.failingSince = null;
    if (rel.state === 'Error') rel.state = 'Replicating';
  }
  while (t >= rel.nextPointAt) {
    addHourlyPoint(rel, rel.nextPointAt, rel.receivedAt);
    rel.nextPointAt += HOUR_MS;
  }
}

function skipPointsTo(rel: Relationship, t: number): void {
  while (t >= rel.nextPointAt) rel.nextPointAt += HOUR_MS;
}

/** Hyper-V marks a VM "resynchronization required" when its change log passes 50 % of the disk. */
function checkResyncRequired(rel: Relationship, t: number): void {
  const logBytes = (sourceSeq(rel, t) - rel.receivedSeq) * rel.source.bytesPerWrite;
  if (logBytes > rel.source.diskBytes / 2) rel.state = 'WaitingForStartResynchronize';
}

export function changeLogBytes(rel: Relationship, now: number): number {
  return Math.max(0, (sourceSeq(rel, now) - rel.receivedSeq) * rel.source.bytesPerWrite);
}

/**
 * Health by the documented rules: Critical when replication has stopped (Error, resync
 * required); Warning when paused or resynchronizing, when more than 20 % of cycles were missed, or
 * when nothing replicated for over an hour; otherwise Normal.
 */
export function healthOf(rel: Relationship, now: number): ReplicationHealth {
  switch (rel.state) {
    case 'Error':
    case 'WaitingForStartResynchronize':
      return 'Critical';
    case 'Suspended':
    case 'Resynchronizing':
      return 'Warning';
    case 'Stopped':
      return 'Normal';
    case 'Replicating':
      break;
  }
  if (rel.totalCycles > 0 && rel.missedCycles * 5 > rel.totalCycles) return 'Warning';
  if (now - rel.lastReplicationAt > HOUR_MS) return 'Warning';
  return 'Normal';
}

/** Start a resync of `bytes` at the link's full bandwidth; cycles resume once it is done. */
export function beginResync(rel: Relationship, now: number, bytes: number): void {
  const bandwidth = rel.link?.bandwidthBytesPerSec ?? Number.POSITIVE_INFINITY;
  rel.state = 'Resynchronizing';
  rel.resyncBytes = bytes;
  rel.resyncSeq = sourceSeq(rel, now);
  rel.resyncUntil = now + Math.ceil((bytes * 1000) / bandwidth);
  rel.failingSince = null;
  if (rel.linkBytes) rel.linkBytes.bytes += bytes;
  clearPoints(rel);
}
