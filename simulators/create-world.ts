import type { HyperVApi } from './api.ts';
import { checkWorldSpec } from './check-spec.ts';
import type { SimClock } from './clock.ts';
import type { SimControl } from './control.ts';
import { SimError } from './errors.ts';
import { applyFault, randomFaults, scheduleFaults } from './faults.ts';
import { type Host, newInstance, type Site, type VmInstance } from './model.ts';
import { createInProcessApi } from './operations.ts';
import { initiallyRunning } from './power.ts';
import type { FaultAction, VmSpec, WorldSpec } from './spec.ts';
import type { WorldTruth } from './truth.ts';
import { newDisk } from './workload.ts';
import { WorldCore } from './world.ts';

/** A simulated world: the Hyper-V API over it, time control, faults and the ground truth. */
export interface World {
  readonly api: HyperVApi & SimControl;
  readonly clock: SimClock;
  /** Simulated ms since the world's start, and as ISO time. */
  nowMs(): number;
  nowIso(): string;
  /** Jump simulated time forward and run every cycle, boot and fault that falls due. */
  advance(ms: number): void;
  truth(): WorldTruth;
  fault(action: FaultAction): void;
  /** In real or scaled mode: keep simulated time moving by itself until `close`. */
  start(): void;
  close(): void;
  /** The VM names of the world (protected VMs, not test VMs). */
  vmNames(): string[];
}

const MB = 1024 * 1024;

export function createWorld(spec: WorldSpec): World {
  const problems = checkWorldSpec(spec);
  if (problems.length > 0) {
    const list = problems.map((p) => `  ${p.path.join('.')}: ${p.message}`).join('\n');
    throw new SimError('BAD_REQUEST', `invalid world:\n${list}`, { problems });
  }
  const core = new WorldCore(spec);
  for (const s of spec.sites) {
    const hosts = new Map<string, Host>();
    const siteRef: Site = { name: s.name, powered: true, hosts, networks: new Map(), vms: new Map() };
    for (const h of s.hosts) {
      hosts.set(h.name, {
        site: s.name,
        siteRef,
        name: h.name,
        powered: true,
        vmSlots: h.vmSlots ?? 50,
        memoryMb: h.memoryMb ?? 262_144,
        maxConcurrentBoots: h.maxConcurrentBoots ?? 8,
        vms: new Set(),
        usedSlots: 0,
        usedMemoryMb: 0,
        booting: 0,
      });
    }
    const networks = new Map(
      (s.networks ?? [{ name: 'production' }]).map((n) => [
        n.name,
        { name: n.name, isolated: n.isolated ?? false },
      ]),
    );
    core.sites.set(s.name, { name: s.name, powered: true, hosts, networks, vms: new Map() });
  }
  for (const l of spec.links ?? []) {
    const link = core.ensureLink(l.between[0], l.between[1]);
    link.latencyMs = l.latencyMs ?? link.latencyMs;
    link.bandwidthBytesPerSec = l.bandwidthBytesPerSec ?? link.bandwidthBytesPerSec;
    link.up = l.up ?? true;
  }
  const workloadRng = core.rng.fork('workload');
  const phaseRng = core.rng.fork('phase');
  for (const vm of spec.vms) addVm(core, vm, workloadRng.next(), phaseRng);
  scheduleFaults(core, [
    ...(spec.faults ?? []),
    ...(spec.randomFaults ? randomFaults(core, spec.randomFaults) : []),
  ]);

  return {
    api: createInProcessApi(core),
    clock: core.clock,
    nowMs: () => {
      core.sync();
      return core.now;
    },
    nowIso: () => {
      core.sync();
      return core.iso(core.now);
    },
    advance: (ms) => core.advance(ms),
    truth: () => {
      core.sync();
      return core.truth();
    },
    fault: (action) => {
      core.sync();
      applyFault(core, action);
    },
    start: () => core.startTicking(),
    close: () => core.stopTicking(),
    vmNames: () => [...core.instances.keys()],
  };
}

function host(core: WorldCore, site: string, name: string): Host {
  return core.site(site).hosts.get(name)!;
}

function addVm(
  core: WorldCore,
  spec: VmSpec,
  draw: number,
  phaseRng: { int(a: number, b: number): number },
): void {
  const w = spec.workload?.writesPerSec ?? 10;
  const rate = typeof w === 'number' ? w : w.min + draw * (w.max - w.min);
  const boot = spec.boot ?? 5000;
  const base = {
    vm: spec.name,
    name: spec.name,
    isTest: false,
    poweredOnAt: null,
    heartbeatOk: false,
    bootToken: 0,
    wasRunningAtCrash: false,
    failoverStage: null,
    prepared: false,
    fencedEpoch: null,
    epoch: 0,
    automaticStartAction: spec.automaticStartAction ?? 'StartIfRunning',
    memoryMb: spec.memoryMb ?? 4096,
    diskBytes: spec.diskBytes ?? 40 * 1024 * MB,
    bytesPerWrite: spec.workload?.bytesPerWrite ?? 4096,
    boot: typeof boot === 'number' ? { minMs: boot, maxMs: boot } : boot,
    bootMode: { mode: 'normal' as const, factor: 5 },
    pendingApplyMs: 0,
    incoming: null,
    outgoing: [],
    testVm: null,
    failoverIndex: null,
    recoveryPoint: null,
  };
  const running = (spec.state ?? 'Running') === 'Running';
  const primary: VmInstance = newInstance({
    ...base,
    site: spec.site,
    host: host(core, spec.site, spec.host),
    state: 'Off',
    role: spec.replication ? 'Primary' : 'None',
    network: spec.network ? { ...spec.network } : null,
    disk: newDisk(rate),
    outgoing: [],
  });
  core.addInstance(primary);
  if (running) initiallyRunning(core, primary);
  const r = spec.replication;
  if (!r) return;
  const replica = replicaInstance(core, base, r.site, r.host, 'Replica', rate);
  const freqMs = (r.frequencySec ?? 300) * 1000;
  core.replicate(primary, replica, {
    extended: false,
    freqMs,
    phaseMs: r.phaseMs ?? phaseRng.int(0, freqMs / 1000 - 1) * 1000,
    maxPoints: r.recoveryPoints ?? 0,
    appConsistentEvery: r.appConsistentEveryHours ?? 0,
    receivedSeq: 0,
  });
  const x = r.extended;
  if (!x) return;
  const extended = replicaInstance(core, base, x.site, x.host, 'ExtendedReplica', rate);
  const xFreqMs = (x.frequencySec ?? 300) * 1000;
  core.replicate(replica, extended, {
    extended: true,
    freqMs: xFreqMs,
    phaseMs: x.phaseMs ?? phaseRng.int(0, xFreqMs / 1000 - 1) * 1000,
    maxPoints: x.recoveryPoints ?? 0,
    // Extended replication keeps no application-consistent points.
    appConsistentEvery: 0,
    receivedSeq: 0,
  });
}

function replicaInstance(
  core: WorldCore,
  base: Omit<VmInstance, 'site' | 'host' | 'state' | 'role' | 'network' | 'disk'>,
  site: string,
  hostName: string,
  role: 'Replica' | 'ExtendedReplica',
  rate: number,
): VmInstance {
  const instance: VmInstance = newInstance({
    ...base,
    site,
    host: host(core, site, hostName),
    state: 'Off',
    heartbeatOk: false,
    role,
    network: null,
    automaticStartAction: base.automaticStartAction,
    disk: newDisk(rate),
    outgoing: [],
  });
  core.addInstance(instance);
  return instance;
}
