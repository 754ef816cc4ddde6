/**
 * Child process of bench/preflight-10k.ts: builds the generated plan's world, warms it up, serves
 * it over HTTP and prints `READY <url>` on stdout. Runs until its stdin closes.
 */
import { generatePlan, parsePlan } from '../engine/plan/index.ts';
import { startSimServer, worldForPlan } from '../simulators/index.ts';

const vms = Number(process.argv[2] ?? 10_000);
const parsed = parsePlan(generatePlan({ vms, depth: 5, seed: 1 }), 'generated.yaml');
if (!parsed.ok) throw new Error(`generated plan is invalid: ${parsed.issues[0]?.message ?? '?'}`);
// 4.5 h of warm-up: the generated plan's latestAppConsistent VMs need an application-consistent
// point, and worldForPlan takes one every 4th hour.
const world = worldForPlan(parsed.plan, { warmupMs: 4.5 * 3_600_000 });
const server = await startSimServer(world.api);
process.stdout.write(`READY ${server.url}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void server.close().then(() => {
    world.close();
    process.exit(0);
  });
});
