/**
 * Child process of bench/worker-jobs.ts: a two-site world of N replicated VMs (50 per host, 8
 * concurrent boots per host, 2 s boots on a 100× clock, 5-minute replication), served over HTTP. Prints
 * `READY <url>` on stdout and runs until its stdin closes.
 */
import { createWorld, startSimServer } from '../simulators/index.ts';
import { fleetWorldSpec, serveUntilStdinEnds } from './_fleet.ts';

const world = createWorld(fleetWorldSpec(Number(process.argv[2] ?? 10_000)));
world.advance(120_000);
world.start();
// An unplanned failover's case: the source site is lost (with it up, the failover would refuse to
// start a replica next to its running, unfenced primary: SOURCE_STILL_RUNNING).
world.fault({ kind: 'site-power', site: 'dc-east', state: 'off' });
serveUntilStdinEnds(world, await startSimServer(world.api));
