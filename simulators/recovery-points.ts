import type { RecoveryPoint, RecoveryPointSelector } from './api.ts';
import { SimError } from './errors.ts';
import type { Relationship, StoredPoint } from './model.ts';
import { HOUR_MS } from './units.ts';

/**
 * Recovery points on a replica: `latest` (everything received), and up to 24 additional hourly
 * points, every n-th of them application-consistent (VSS). Small records, trimmed as they age out.
 */

export function firstPointBoundary(now: number): number {
  return (Math.floor(now / HOUR_MS) + 1) * HOUR_MS;
}

/** An hourly point holds what the replica had received at the boundary; `at` is that data's time. */
export function addHourlyPoint(rel: Relationship, boundary: number, at: number): void {
  if (rel.maxPoints === 0) return;
  rel.pointCounter++;
  const appConsistent =
    rel.appConsistentEvery > 0 && Math.floor(boundary / HOUR_MS) % rel.appConsistentEvery === 0;
  rel.points.push({
    id: `${rel.target.site}.${rel.vm}.${rel.pointCounter}`,
    kind: appConsistent ? 'appConsistent' : 'standard',
    at,
    seq: rel.receivedSeq,
  });
  if (rel.points.length > rel.maxPoints) rel.points.shift();
}

export function clearPoints(rel: Relationship): void {
  rel.points = [];
}

/**
 * A recovery point as the simulator knows it: Hyper-V's view plus the highest write sequence
 * number it holds. The sequence number is the ledger's (ground truth) and never leaves the
 * simulator through the host-driver interface: `publicPoint` strips it.
 */
export type SeqPoint = RecoveryPoint & { seq: number };

/** The point as Hyper-V shows it (no sequence number). */
export function publicPoint(point: SeqPoint): RecoveryPoint {
  return { id: point.id, kind: point.kind, time: point.time };
}

export interface ChosenPoint {
  point: SeqPoint;
  atMs: number;
  /** Simulated ms to apply received-but-unapplied logs first (`latest` only). */
  applyBytes: number;
}

export function listPoints(rel: Relationship, iso: (ms: number) => string): SeqPoint[] {
  const out: SeqPoint[] = [];
  if (rel.receivedAt >= 0) {
    out.push({ id: latestId(rel), kind: 'latest', time: iso(rel.receivedAt), seq: rel.receivedSeq });
  }
  for (let i = rel.points.length - 1; i >= 0; i--) out.push(toPoint(rel.points[i]!, iso));
  return out;
}

function latestId(rel: Relationship): string {
  return `${rel.target.site}.${rel.vm}.latest`;
}

function processedId(rel: Relationship): string {
  return `${rel.target.site}.${rel.vm}.processed`;
}

function toPoint(p: StoredPoint, iso: (ms: number) => string): SeqPoint {
  return { id: p.id, kind: p.kind, time: iso(p.at), seq: p.seq };
}

export function choosePoint(
  rel: Relationship,
  selector: RecoveryPointSelector,
  iso: (ms: number) => string,
  parseIso: (s: string) => number,
): ChosenPoint {
  const where = `VM '${rel.vm}' at site '${rel.target.site}'`;
  switch (selector.kind) {
    case 'latest':
      return {
        point: { id: latestId(rel), kind: 'latest', time: iso(rel.receivedAt), seq: rel.receivedSeq },
        atMs: rel.receivedAt,
        applyBytes: (rel.receivedSeq - rel.appliedSeq) * rel.source.bytesPerWrite,
      };
    case 'latestProcessed':
      return {
        point: {
          id: `${rel.target.site}.${rel.vm}.processed`,
          kind: 'latest',
          time: iso(rel.appliedAt),
          seq: rel.appliedSeq,
        },
        atMs: rel.appliedAt,
        applyBytes: 0,
      };
    case 'latestAppConsistent': {
      for (let i = rel.points.length - 1; i >= 0; i--) {
        const p = rel.points[i]!;
        if (p.kind === 'appConsistent') return { point: toPoint(p, iso), atMs: p.at, applyBytes: 0 };
      }
      throw new SimError('NO_RECOVERY_POINT', `${where} has no application-consistent recovery point`, {
        vm: rel.vm,
        site: rel.target.site,
      });
    }
    case 'at': {
      const at = parseIso(selector.at);
      // `latest` is the newest point of all: it is the answer whenever it is not after `at`.
      if (rel.receivedAt <= at && rel.receivedSeq > 0)
        return choosePoint(rel, { kind: 'latest' }, iso, parseIso);
      for (let i = rel.points.length - 1; i >= 0; i--) {
        const p = rel.points[i]!;
        if (p.at <= at) return { point: toPoint(p, iso), atMs: p.at, applyBytes: 0 };
      }
      throw new SimError('NO_RECOVERY_POINT', `${where} has no recovery point at or before ${selector.at}`, {
        vm: rel.vm,
        site: rel.target.site,
      });
    }
    case 'id': {
      if (selector.id === latestId(rel)) return choosePoint(rel, { kind: 'latest' }, iso, parseIso);
      if (selector.id === processedId(rel))
        return choosePoint(rel, { kind: 'latestProcessed' }, iso, parseIso);
      const p = rel.points.find((x) => x.id === selector.id);
      if (!p) {
        throw new SimError('NO_RECOVERY_POINT', `${where} has no recovery point '${selector.id}'`, {
          vm: rel.vm,
          site: rel.target.site,
        });
      }
      return { point: toPoint(p, iso), atMs: p.at, applyBytes: 0 };
    }
  }
}
