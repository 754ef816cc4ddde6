import { SimClock } from './clock.ts';
import { CycleBuckets } from './cycle-buckets.ts';
import { SimError } from './errors.ts';
import { EventQueue } from './event-queue.ts';
import { HeartbeatWaiters } from './heartbeat-waiters.ts';
import { Ledger } from './ledger.ts';
import type { Host, Link, Relationship, Site, VmInstance } from './model.ts';
import { newRelationship, type ReplicationEnv, runCycle } from './replication.ts';
import { Rng } from './rng.ts';
import type { WorldSpec } from './spec.ts';
import type { WorldTruth } from './truth.ts';

const DEFAULT_START = '2026-01-01T00:00:00.000Z';

/**
 * The world's state and its event loop: sites, hosts, links, VM instances, replication
 * relationships (stepped in buckets of equal frequency and phase), the ledger of ground truth.
 * Operations live in operations.ts, power and boots in power.ts, faults in faults.ts.
 */
export class WorldCore implements ReplicationEnv {
  readonly clock: SimClock;
  readonly rng: Rng;
  readonly bootRng: Rng;
  readonly queue = new EventQueue();
  readonly sites = new Map<string, Site>();
  readonly links = new Map<string, Link>();
  readonly instances = new Map<string, VmInstance[]>();
  readonly relationships = new Set<Relationship>();
  readonly ledger: Ledger;
  readonly errorAfterMs: number;
  readonly applyBytesPerSec: number;
  readonly startMs: number;
  private readonly buckets = new CycleBuckets(
    (at, run) => this.schedule(at, run),
    () => this.now,
    (rel, at) => runCycle(this, rel, at),
  );
  private readonly waiters = new HeartbeatWaiters(
    (at, run) => this.schedule(at, run),
    () => this.now,
  );
  private processedTo = 0;
  private ticker: NodeJS.Timeout | null = null;
  private syncing = false;

  constructor(
    spec: Pick<WorldSpec, 'seed' | 'start' | 'clock' | 'replicationErrorAfterMs' | 'applyBytesPerSec'>,
  ) {
    this.clock = new SimClock(spec.clock);
    this.rng = new Rng(spec.seed ?? 1);
    this.bootRng = this.rng.fork('boot');
    this.startMs = Date.parse(spec.start ?? DEFAULT_START);
    if (Number.isNaN(this.startMs)) throw new RangeError(`invalid world start time '${spec.start}'`);
    this.errorAfterMs = spec.replicationErrorAfterMs ?? 6 * 3_600_000;
    this.applyBytesPerSec = spec.applyBytesPerSec ?? 50_000_000;
    this.ledger = new Ledger((ms) => this.iso(ms));
  }

  iso(ms: number): string {
    return new Date(this.startMs + ms).toISOString();
  }

  parseIso(value: string): number {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new SimError('BAD_REQUEST', `'${value}' is not an ISO-8601 time`);
    return ms - this.startMs;
  }

  /** Simulated ms up to which events have run. */
  get now(): number {
    return this.processedTo;
  }

  // ---- time ----

  /** Run every event due up to the clock's present. */
  sync(): void {
    this.runUntil(this.clock.now());
  }

  /** Jump simulated time forward (any clock mode) and run what falls due. */
  advance(ms: number): void {
    this.clock.advance(ms);
    this.sync();
  }

  schedule(at: number, run: (at: number) => void): void {
    this.queue.schedule(Math.max(at, this.processedTo), run);
  }

  private runUntil(target: number): void {
    if (this.syncing) return;
    this.syncing = true;
    try {
      for (;;) {
        const next = this.queue.peekTime();
        if (next === undefined || next > target) break;
        const event = this.queue.pop()!;
        this.processedTo = event.at;
        event.run(event.at);
      }
      if (target > this.processedTo) this.processedTo = target;
    } finally {
      this.syncing = false;
    }
  }

  /** In real or scaled mode, keep simulated time moving on its own. */
  startTicking(intervalMs = 10): void {
    if (this.clock.mode === 'manual' || this.ticker) return;
    this.ticker = setInterval(() => this.sync(), intervalMs);
    this.ticker.unref();
  }

  stopTicking(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
  }

  // ---- lookups ----

  site(name: string): Site {
    const site = this.sites.get(name);
    if (!site)
      throw new SimError('SITE_NOT_FOUND', `site '${name}' does not exist in this world`, { site: name });
    return site;
  }

  /** A site whose management endpoint answers (not powered off). */
  reachableSite(name: string): Site {
    const site = this.site(name);
    if (!site.powered) {
      throw new SimError('SITE_UNREACHABLE', `site '${name}' does not answer (powered off)`, { site: name });
    }
    return site;
  }

  /** The VM instance on a site's up host; HOST_DOWN when its host has crashed. */
  vm(siteName: string, name: string): VmInstance {
    const site = this.reachableSite(siteName);
    const vm = site.vms.get(name);
    if (!vm) {
      throw new SimError('VM_NOT_FOUND', `no VM '${name}' on any host of site '${siteName}'`, {
        site: siteName,
        vm: name,
      });
    }
    if (!vm.host.powered) {
      throw new SimError(
        'HOST_DOWN',
        `host '${vm.host.name}' of VM '${name}' at site '${siteName}' is down`,
        {
          site: siteName,
          vm: name,
          host: vm.host.name,
        },
      );
    }
    return vm;
  }

  hostUp(instance: VmInstance): boolean {
    return instance.host.powered && instance.host.siteRef.powered;
  }

  linkBetween(a: string, b: string): Link | null {
    if (a === b) return null;
    return this.links.get(linkKey(a, b)) ?? null;
  }

  ensureLink(a: string, b: string): Link {
    const key = linkKey(a, b);
    let link = this.links.get(key);
    if (!link) {
      const [x, y] = a < b ? [a, b] : [b, a];
      link = {
        key,
        a: x,
        b: y,
        up: true,
        latencyMs: 5,
        bandwidthBytesPerSec: 125_000_000,
        active: 0,
        bytes: new Map(),
      };
      this.links.set(key, link);
    }
    return link;
  }

  addInstance(instance: VmInstance): void {
    this.site(instance.site).vms.set(instance.name, instance);
    instance.host.vms.add(instance);
    if (!instance.isTest) {
      let list = this.instances.get(instance.vm);
      if (!list) {
        list = [];
        this.instances.set(instance.vm, list);
      }
      list.push(instance);
      this.ledger.register(instance);
    }
  }

  removeInstance(instance: VmInstance): void {
    this.sites.get(instance.site)?.vms.delete(instance.name);
    instance.host.vms.delete(instance);
  }

  // ---- replication wiring ----

  replicate(
    source: VmInstance,
    target: VmInstance,
    options: {
      extended: boolean;
      freqMs: number;
      phaseMs: number;
      maxPoints: number;
      appConsistentEvery: number;
      receivedSeq: number;
    },
  ): Relationship {
    const link = source.site === target.site ? null : this.ensureLink(source.site, target.site);
    const rel = newRelationship(source, target, { ...options, link, now: this.now });
    source.outgoing.push(rel);
    target.incoming = rel;
    this.relationships.add(rel);
    if (link) link.active++;
    this.buckets.add(rel);
    return rel;
  }

  /** Stop a relationship for good (reverse replaces it with one in the other direction). */
  unreplicate(rel: Relationship): void {
    if (rel.bucket === null) return;
    rel.state = 'Stopped';
    rel.source.outgoing = rel.source.outgoing.filter((r) => r !== rel);
    if (rel.target.incoming === rel) rel.target.incoming = null;
    if (rel.link) rel.link.active--;
    this.buckets.remove(rel);
  }

  // ---- heartbeat waiters ----

  waitForHeartbeat(instance: VmInstance, timeoutMs: number): Promise<{ ok: boolean; waitedMs: number }> {
    const result = this.waiters.wait(instance, timeoutMs);
    if (this.clock.mode !== 'manual') this.startTicking();
    return result;
  }

  notifyHeartbeat(instance: VmInstance, at: number): void {
    this.waiters.notify(instance, at);
  }

  // ---- truth ----

  truth(): WorldTruth {
    const links: WorldTruth['replication']['links'] = [];
    for (const link of this.links.values()) {
      for (const [dir, { bytes }] of link.bytes) {
        const [from, to] = dir.split('->') as [string, string];
        links.push({ from, to, bytes });
      }
    }
    return this.ledger.truth(this.now, this.relationships, links);
  }

  hosts(): Host[] {
    return [...this.sites.values()].flatMap((s) => [...s.hosts.values()]);
  }
}

export function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
