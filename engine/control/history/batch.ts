/**
 * Turning a record() call's samples into per-VM ring updates: check every sample first (a bad one
 * refuses the whole call, before anything is written), drop those outside the window, fold samples
 * of the same VM and bucket, and pack each VM's update as one binary argument for the Lua script.
 * Pure: takes the time as `nowMs`.
 */

import { InputError } from '../../common/index.ts';
import type { ReplicationHealth } from '../../hosts/index.ts';
import { BUCKET_MS, bucketOf, SERIES_BUCKETS, slotOf } from './buckets.ts';
import { SITE_MAX_BYTES } from './layout.ts';
import { type EncodedSlot, encodeSlot, foldSlot, isReplicationHealth } from './slot.ts';

/** One VM's replication as its site's agent measured it (Measure-VMReplication) at `at`. */
export interface HistorySample {
  vm: string;
  /** The site whose agent reported the sample. */
  site: string;
  /** When the sample was measured, ms since the Unix epoch. */
  at: number;
  /**
   * now - last replication time, seconds; null when the VM reports no last replication time.
   * A negative value (the host's clock a little ahead of the agent's) is recorded as 0.
   */
  rpoSec: number | null;
  health: ReplicationHealth;
}

/** Longest VM name accepted, in UTF-8 bytes (Hyper-V allows 100 characters). */
export const VM_MAX_BYTES = 255;

/** What happened to a record() call's samples; they add up to the number of samples given. */
export interface RecordCounts {
  /** Folded into a VM's ring. */
  recorded: number;
  /** Older than the 24-hour window: they would read as gaps anyway. */
  tooOld: number;
  /** Later than now + the future tolerance (an agent clock running ahead). */
  future: number;
  /** Their slot already holds a later bucket (written by a process whose clock is ahead). */
  superseded: number;
}

export interface VmUpdate {
  vm: string;
  /** Site length byte, site UTF-8, then 6 bytes per slot: slot, head, RPO code (uint16 BE each). */
  packed: Buffer;
  /** Samples folded into this update (for the counts when the script supersedes some). */
  samplesBySlot: Map<number, number>;
}

export interface PlannedBatch {
  updates: VmUpdate[];
  counts: RecordCounts;
}

interface Pending {
  site: string;
  siteAt: number;
  /** slot → the newest bucket seen for it, its fold and how many samples it holds */
  slots: Map<number, { bucket: number; slot: EncodedSlot; samples: number }>;
}

export function planBatch(
  samples: readonly HistorySample[],
  nowMs: number,
  futureToleranceMs: number,
): PlannedBatch {
  samples.forEach(checkSample);
  const counts: RecordCounts = { recorded: 0, tooOld: 0, future: 0, superseded: 0 };
  const oldest = bucketOf(nowMs) - SERIES_BUCKETS + 1;
  const byVm = new Map<string, Pending>();
  for (const sample of samples) {
    if (sample.at > nowMs + futureToleranceMs) {
      counts.future++;
      continue;
    }
    const bucket = bucketOf(sample.at);
    if (bucket < oldest) {
      counts.tooOld++;
      continue;
    }
    let pending = byVm.get(sample.vm);
    if (pending === undefined) {
      pending = { site: sample.site, siteAt: sample.at, slots: new Map() };
      byVm.set(sample.vm, pending);
    } else if (sample.at >= pending.siteAt) {
      pending.site = sample.site;
      pending.siteAt = sample.at;
    }
    const encoded = encodeSlot(bucket, sample.health, sample.rpoSec);
    const slot = slotOf(bucket);
    const held = pending.slots.get(slot);
    if (held === undefined || held.bucket < bucket) {
      // a future-tolerated bucket shares its slot with the window's oldest one: the newer wins
      if (held !== undefined) counts.superseded += held.samples;
      pending.slots.set(slot, { bucket, slot: encoded, samples: 1 });
    } else if (held.bucket === bucket) {
      held.slot = foldSlot(held.slot, encoded);
      held.samples++;
    } else {
      counts.superseded++;
    }
  }
  const updates: VmUpdate[] = [];
  for (const [vm, pending] of byVm) {
    const site = Buffer.from(pending.site, 'utf8');
    const packed = Buffer.alloc(1 + site.length + pending.slots.size * 6);
    packed[0] = site.length;
    site.copy(packed, 1);
    let offset = 1 + site.length;
    const samplesBySlot = new Map<number, number>();
    for (const [slot, held] of pending.slots) {
      packed.writeUInt16BE(slot, offset);
      packed.writeUInt16BE(held.slot.head, offset + 2);
      packed.writeUInt16BE(held.slot.rpoCode, offset + 4);
      offset += 6;
      samplesBySlot.set(slot, held.samples);
      counts.recorded += held.samples;
    }
    updates.push({ vm, packed, samplesBySlot });
  }
  return { updates, counts };
}

function checkSample(sample: HistorySample, index: number): void {
  // Checked per sample, 20,000 every 30 s at steady state: no closure made per call (under tsx each
  // inner function also costs a name definition), the error text only built for a bad one.
  if (typeof sample !== 'object' || sample === null) refuse(sample, index, 'not an object');
  if (typeof sample.vm !== 'string' || sample.vm.length === 0)
    refuse(sample, index, 'vm must be a non-empty string');
  if (Buffer.byteLength(sample.vm, 'utf8') > VM_MAX_BYTES)
    refuse(sample, index, `vm is longer than ${VM_MAX_BYTES} bytes`);
  if (typeof sample.site !== 'string' || sample.site.length === 0)
    refuse(sample, index, 'site must be a non-empty string');
  if (Buffer.byteLength(sample.site, 'utf8') > SITE_MAX_BYTES)
    refuse(sample, index, `site is longer than ${SITE_MAX_BYTES} bytes`);
  if (typeof sample.at !== 'number' || !Number.isFinite(sample.at) || sample.at < 0)
    refuse(sample, index, `at must be a time in ms since the Unix epoch, got ${String(sample.at)}`);
  if (sample.rpoSec !== null && (typeof sample.rpoSec !== 'number' || !Number.isFinite(sample.rpoSec)))
    refuse(sample, index, `rpoSec must be a number of seconds or null, got ${String(sample.rpoSec)}`);
  if (!isReplicationHealth(sample.health))
    refuse(sample, index, `health must be Normal, Warning or Critical, got ${JSON.stringify(sample.health)}`);
}

function refuse(sample: HistorySample, index: number, what: string): never {
  const where = `inventory history: sample ${index}${typeof sample?.vm === 'string' && sample.vm.length > 0 ? ` (VM "${sample.vm}")` : ''}`;
  throw new InputError('HISTORY_SAMPLE_INVALID', `${where}: ${what}; nothing was recorded`, { index });
}

/** Default for how far ahead of the store's clock a sample may be: one bucket. */
export const DEFAULT_FUTURE_TOLERANCE_MS = BUCKET_MS;
