import type { Relationship } from './model.ts';

interface Bucket {
  freqMs: number;
  phaseMs: number;
  /** An array, not a Set: the hot loop walks it in order; removals (reverse) are rare. */
  rels: Relationship[];
  scheduled: boolean;
}

/**
 * Replication cycles grouped by (frequency, phase): one timed event per bucket runs every
 * relationship in it, so a cycle costs a loop iteration instead of a heap operation.
 */
export class CycleBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly schedule: (at: number, run: (at: number) => void) => void,
    private readonly now: () => number,
    private readonly runCycle: (rel: Relationship, at: number) => void,
  ) {}

  add(rel: Relationship): void {
    const phase = ((rel.phaseMs % rel.freqMs) + rel.freqMs) % rel.freqMs;
    const key = `${rel.freqMs}:${phase}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { freqMs: rel.freqMs, phaseMs: phase, rels: [], scheduled: false };
      this.buckets.set(key, bucket);
    }
    bucket.rels.push(rel);
    rel.bucket = key;
    if (!bucket.scheduled) {
      const k = Math.floor((this.now() - phase) / rel.freqMs) + 1;
      this.scheduleBucket(bucket, phase + k * rel.freqMs);
    }
  }

  remove(rel: Relationship): void {
    if (rel.bucket === null) return;
    const bucket = this.buckets.get(rel.bucket);
    if (bucket) {
      const i = bucket.rels.indexOf(rel);
      if (i >= 0) bucket.rels.splice(i, 1);
    }
    rel.bucket = null;
  }

  private scheduleBucket(bucket: Bucket, at: number): void {
    bucket.scheduled = true;
    this.schedule(at, (t) => {
      const rels = bucket.rels;
      if (rels.length === 0) {
        bucket.scheduled = false;
        return;
      }
      for (let i = 0; i < rels.length; i++) this.runCycle(rels[i]!, t);
      this.scheduleBucket(bucket, t + bucket.freqMs);
    });
  }
}
