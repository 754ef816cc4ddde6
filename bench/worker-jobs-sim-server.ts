/**
 * Child process of bench/worker-jobs.ts: a two-site world of N replicated VMs (50 per host, 8
 * concurrent boots per host, 2 s boots on a 100× clock, 5-minute replication), served over HTTP. Prints
 * `READY <url>` on stdout and runs until its stdin closes.
 */
import { createWorld, startSimServer, type VmSpec } from '../simulators/index.ts';

const vms = Number(process.argv[2] ?? 10_000);
const hosts = Math.ceil(vms / 50);
const host = (site: string, i: number): string => `${site}-h${String(i % hosts).padStart(3, '0')}`;
const hostList = (site: string) =>
  Array.from({ length: hosts }, (_, i) => ({ name: host(site, i), maxConcurrentBoots: 8 }));
const specs: VmSpec[] = Array.from({ length: vms }, (_, i) => ({
  name: `vm-${String(i).padStart(5, '0')}`,
  site: 'dc-east',
  host: host('dc-east', i),
  boot: 2_000,
  replication: { site: 'dc-west', host: host('dc-west', i), frequencySec: 300 },
}));
const world = createWorld({
  clock: { mode: 'scaled', speed: 100 },
  sites: [
    { name: 'dc-east', hosts: hostList('dc-east') },
    { name: 'dc-west', hosts: hostList('dc-west') },
  ],
  links: [{ between: ['dc-east', 'dc-west'] }],
  vms: specs,
});
world.advance(120_000);
world.start();
const server = await startSimServer(world.api);
process.stdout.write(`READY ${server.url}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void server.close().then(() => {
    world.close();
    process.exit(0);
  });
});
