/**
 * Child process of the engine benches: the world for a plan (JSON file in argv[2]) served over
 * HTTP. argv[3]: boot times `min-max` in ms (e.g. `0-0`, `1000-10000`); argv[4]: clock speed.
 * Prints `READY <url>` and runs until its stdin closes.
 */
import { readFileSync } from 'node:fs';
import type { RecoveryPlan } from '../engine/plan/types.ts';
import { createWorld, startSimServer, worldSpecForPlan } from '../simulators/index.ts';
import { serveUntilStdinEnds } from './_fleet.ts';

const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as RecoveryPlan;
const [minMs = 0, maxMs = 0] = (process.argv[3] ?? '0-0').split('-').map(Number);
const speed = Number(process.argv[4] ?? 1);
const spec = worldSpecForPlan(plan, {
  clock: speed === 1 ? { mode: 'real' } : { mode: 'scaled', speed },
  maxConcurrentBoots: Number(process.env.BOOT_LIMIT ?? 8),
});
for (const vm of spec.vms) vm.boot = { minMs, maxMs };
const world = createWorld(spec);
world.advance(5 * 3_600_000);
world.start();
serveUntilStdinEnds(world, await startSimServer(world.api));
