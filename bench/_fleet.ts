/**
 * Shared by the worker and handler benches: a two-site fleet of N replicated VMs (50 per host,
 * 8 concurrent boots per host, 2 s boots on a 100× clock, 5-minute replication), the combined
 * failover + boot + readiness job of one of its VMs, and the way a bench child serves a world.
 */
import type { StepJobData } from '../engine/executor/index.ts';
import type { SimServer, VmSpec, World, WorldSpec } from '../simulators/index.ts';

export function fleetVmName(i: number): string {
  return `vm-${String(i).padStart(5, '0')}`;
}

export function fleetWorldSpec(vmCount: number): WorldSpec {
  const hosts = Math.ceil(vmCount / 50);
  const host = (site: string, i: number): string => `${site}-h${String(i % hosts).padStart(3, '0')}`;
  const hostList = (site: string) =>
    Array.from({ length: hosts }, (_, i) => ({ name: host(site, i), maxConcurrentBoots: 8 }));
  const vms: VmSpec[] = Array.from({ length: vmCount }, (_, i) => ({
    name: fleetVmName(i),
    site: 'dc-east',
    host: host('dc-east', i),
    boot: 2_000,
    replication: { site: 'dc-west', host: host('dc-west', i), frequencySec: 300 },
  }));
  return {
    clock: { mode: 'scaled', speed: 100 },
    sites: [
      { name: 'dc-east', hosts: hostList('dc-east') },
      { name: 'dc-west', hosts: hostList('dc-west') },
    ],
    links: [{ between: ['dc-east', 'dc-west'] }],
    vms,
  };
}

/** An unplanned failover + boot + readiness job of one fleet VM at dc-west. */
export function fleetFailoverJob(execution: string, vm: string): StepJobData {
  return {
    v: 1,
    execution,
    epoch: 1,
    type: 'unplanned',
    direction: 'forward',
    site: 'dc-west',
    fromSite: 'dc-east',
    toSite: 'dc-west',
    steps: [`${vm}/failover`, `${vm}/boot`, `${vm}/readiness`],
    vm,
    recoveryPoint: { kind: 'latest' },
    readiness: { checks: [{ kind: 'heartbeat' }], timeoutMs: 600_000, onTimeout: 'fail' },
    attempt: 1,
  };
}

/** A bench child: print `READY <url>` and serve until the parent closes our stdin. */
export function serveUntilStdinEnds(world: World, server: SimServer): void {
  process.stdout.write(`READY ${server.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void server.close().then(() => {
      world.close();
      process.exit(0);
    });
  });
}
