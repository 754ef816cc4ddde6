import type { SimErrorCode } from './api.ts';
import type { Relationship, VmInstance } from './model.ts';
import {
  bump,
  type FailoverRecord,
  type GuardFiring,
  nested,
  type PrimaryInterval,
  type SplitBrainInterval,
  type WorldTruth,
} from './truth.ts';
import { seqAt } from './workload.ts';

interface OpenSplit {
  record: SplitBrainInterval;
  startSeq: Map<VmInstance, number>;
}

interface VmLedger {
  instances: VmInstance[];
  timeline: PrimaryInterval[];
  openTimeline: Map<string, PrimaryInterval>;
  split: OpenSplit | null;
  autoStarts: number;
}

/**
 * Records the ground truth as the world changes. "Running as primary": a non-test VM instance
 * that is Running or Starting (a replica that is still replicating can never be started, so every
 * running non-test instance counts). Two or more at once is split-brain.
 */
export class Ledger {
  private readonly vms = new Map<string, VmLedger>();
  private readonly failovers: { record: FailoverRecord; oldPrimary: VmInstance; frozen: boolean }[] = [];
  private readonly splitBrain: OpenSplit[] = [];
  private readonly mutations: WorldTruth['mutations'] = {};
  private readonly refused: WorldTruth['refused'] = {};
  private readonly faults: WorldTruth['faults'] = [];
  private readonly guardFirings: GuardFiring[] = [];
  bootLimitRefusals = 0;

  constructor(private readonly iso: (ms: number) => string) {}

  register(instance: VmInstance): void {
    let entry = this.vms.get(instance.vm);
    if (!entry) {
      entry = { instances: [], timeline: [], openTimeline: new Map(), split: null, autoStarts: 0 };
      this.vms.set(instance.vm, entry);
    }
    entry.instances.push(instance);
  }

  countMutation(vm: string, site: string, op: string): void {
    bump(
      nested(
        nested(this.mutations, vm, () => ({})),
        site,
        () => ({}),
      ),
      op,
    );
  }

  countRefusal(vm: string, site: string, code: SimErrorCode): void {
    bump(
      nested(
        nested(this.refused, vm, () => ({})),
        site,
        () => ({}),
      ),
      code,
    );
    if (code === 'HOST_BOOT_LIMIT') this.bootLimitRefusals++;
  }

  countAutoStart(vm: string): void {
    const entry = this.vms.get(vm);
    if (entry) entry.autoStarts++;
  }

  recordFault(at: number, fault: string): void {
    this.faults.push({ at: this.iso(at), fault });
  }

  recordGuardFiring(firing: Omit<GuardFiring, 'at'> & { at: number }): void {
    this.guardFirings.push({ ...firing, at: this.iso(firing.at) });
  }

  addFailover(record: FailoverRecord, oldPrimary: VmInstance): number {
    this.failovers.push({ record, oldPrimary, frozen: false });
    return this.failovers.length - 1;
  }

  cancelFailover(index: number, now: number): void {
    const f = this.failovers[index];
    if (!f) return;
    f.record.cancelledAt = this.iso(now);
    f.frozen = true;
  }

  /** The recovery point's sequence number of failover `index`: where the recovered disk forked. */
  failoverSeq(index: number): number | undefined {
    return this.failovers[index]?.record.recoveryPoint.seq;
  }

  /** The old primary stopped being the same disk (reversed into a replica): freeze its count. */
  freezeFailover(index: number, now: number): void {
    const f = this.failovers[index];
    if (!f || f.frozen) return;
    f.record.writesAfterFailover = Math.max(0, seqAt(f.oldPrimary.disk, now) - f.record.lastAckedSeq);
    f.frozen = true;
  }

  /** Call after any power change of a non-test instance of `vm`. */
  onPowerChange(vm: string, now: number): void {
    const entry = this.vms.get(vm);
    if (!entry) return;
    const runningNow = entry.instances.filter(runsAsPrimary);
    const sites = new Set(runningNow.map((i) => i.site));
    for (const [site, interval] of entry.openTimeline) {
      if (!sites.has(site)) {
        interval.to = this.iso(now);
        entry.openTimeline.delete(site);
      }
    }
    for (const site of sites) {
      if (!entry.openTimeline.has(site)) {
        const interval: PrimaryInterval = { site, from: this.iso(now), to: null };
        entry.timeline.push(interval);
        entry.openTimeline.set(site, interval);
      }
    }
    if (sites.size >= 2 && entry.split === null) {
      const open: OpenSplit = {
        record: { vm, sites: [...sites].sort(), from: this.iso(now), to: null, writesBySite: {} },
        startSeq: new Map(runningNow.map((i) => [i, seqAt(i.disk, now)])),
      };
      entry.split = open;
      this.splitBrain.push(open);
    } else if (entry.split !== null) {
      for (const i of runningNow) {
        if (!entry.split.startSeq.has(i)) entry.split.startSeq.set(i, seqAt(i.disk, now));
        if (!entry.split.record.sites.includes(i.site)) entry.split.record.sites.push(i.site);
      }
      if (sites.size < 2) {
        fillWrites(entry.split, now);
        entry.split.record.to = this.iso(now);
        entry.split = null;
      }
    }
  }

  truth(now: number, rels: Iterable<Relationship>, links: WorldTruth['replication']['links']): WorldTruth {
    const vms: WorldTruth['vms'] = {};
    for (const [name, entry] of this.vms) {
      vms[name] = {
        primarySites: [...entry.openTimeline.keys()].sort(),
        timeline: entry.timeline.map((t) => ({ ...t })),
        autoStarts: entry.autoStarts,
      };
    }
    const failovers = this.failovers.map((f) => {
      const writesAfterFailover = f.frozen
        ? f.record.writesAfterFailover
        : f.record.kind === 'test'
          ? 0
          : Math.max(0, seqAt(f.oldPrimary.disk, now) - f.record.lastAckedSeq);
      return { ...f.record, writesAfterFailover };
    });
    const splitBrain = this.splitBrain.map((s) => {
      if (s.record.to === null) fillWrites(s, now);
      return { ...s.record, sites: [...s.record.sites], writesBySite: { ...s.record.writesBySite } };
    });
    const replication: WorldTruth['replication'] = { links, vms: {} };
    for (const rel of rels) {
      nested(replication.vms, rel.vm, () => []).push({
        from: rel.source.site,
        to: rel.target.site,
        totalCycles: rel.totalCycles,
        missedCycles: rel.missedCycles,
      });
    }
    return {
      now: this.iso(now),
      vms,
      failovers,
      splitBrain,
      mutations: structuredClone(this.mutations),
      refused: structuredClone(this.refused),
      bootLimitRefusals: this.bootLimitRefusals,
      replication,
      faults: [...this.faults],
      guardFirings: this.guardFirings.map((g) => ({ ...g, armedVms: [...g.armedVms], vms: [...g.vms] })),
    };
  }
}

export function runsAsPrimary(i: VmInstance): boolean {
  return !i.isTest && (i.state === 'Running' || i.state === 'Starting');
}

function fillWrites(split: OpenSplit, now: number): void {
  const bySite: Record<string, number> = {};
  for (const [instance, start] of split.startSeq) {
    bySite[instance.site] = (bySite[instance.site] ?? 0) + Math.max(0, seqAt(instance.disk, now) - start);
  }
  split.record.writesBySite = bySite;
}
