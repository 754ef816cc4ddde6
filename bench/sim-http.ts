/**
 * Simulator figure: the cost of driving a 10,000-VM failover through the HTTP API, server and
 * client in separate processes (as the engine's workers run). Per phase: wall time and calls/s.
 *
 *   npx tsx bench/sim-http.ts [--vms 10000] [--concurrency 64]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import pLimit from 'p-limit';
import { createSimClient, createWorld, startSimServer } from '../simulators/index.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const vms = Number(arg('vms', '10000'));

async function serveChild(): Promise<void> {
  const hosts = Math.ceil(vms / 50);
  const world = createWorld({
    seed: 1,
    clock: { mode: 'manual' },
    sites: ['east', 'west'].map((site) => ({
      name: site,
      hosts: Array.from({ length: hosts }, (_, i) => ({
        name: `h${i}`,
        vmSlots: 50,
        maxConcurrentBoots: 50,
      })),
    })),
    links: [{ between: ['east', 'west'], bandwidthBytesPerSec: 1_250_000_000 }],
    vms: Array.from({ length: vms }, (_, i) => ({
      name: `vm-${i}`,
      site: 'east',
      host: `h${i % hosts}`,
      replication: { site: 'west', host: `h${i % hosts}`, frequencySec: 30 as const, recoveryPoints: 24 },
    })),
  });
  world.advance(2 * 3_600_000);
  const server = await startSimServer(world.api, { port: 0 });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  createInterface({ input: process.stdin }).on('line', () => {
    const cpu = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
  });
}

/** fn(0) … fn(n - 1), `concurrency` calls in flight. */
async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<void> {
  await pLimit(concurrency).map(
    Array.from({ length: n }, (_, i) => i),
    fn,
  );
}

async function main(): Promise<void> {
  const concurrency = Number(arg('concurrency', '64'));
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve', '--vms', String(vms)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<string> => String((await lines.next()).value ?? '{}');
  const url = (JSON.parse(await nextLine()) as { url: string }).url;
  // The server process reports its own CPU time when asked on stdin.
  const serverCpu = async (): Promise<number> => {
    child.stdin?.write('cpu\n');
    return (JSON.parse(await nextLine()) as { cpuMs: number }).cpuMs;
  };
  const client = createSimClient(url);
  const rows: { name: string; calls: number; wallMs: number; clientMs: number; serverMs: number }[] = [];
  const phase = async (name: string, calls: number, run: () => Promise<void>): Promise<void> => {
    const server0 = await serverCpu();
    const client0 = process.cpuUsage();
    const t = performance.now();
    await run();
    const wallMs = performance.now() - t;
    const c = process.cpuUsage(client0);
    rows.push({
      name,
      calls,
      wallMs,
      clientMs: (c.user + c.system) / 1000,
      serverMs: (await serverCpu()) - server0,
    });
  };
  try {
    await phase('listVMs (both sites)', 2, async () => {
      await client.listVMs('east');
      await client.listVMs('west');
    });
    await phase('getVM (replica)', vms, () => pool(vms, concurrency, (i) => client.getVM('west', `vm-${i}`)));
    await phase('stopVM (primary)', vms, () =>
      pool(vms, concurrency, (i) => client.stopVM({ site: 'east', vm: `vm-${i}`, epoch: 1 })),
    );
    await phase('Start-VMFailover (latest)', vms, () =>
      pool(vms, concurrency, (i) =>
        client.startVMFailover({ site: 'west', vm: `vm-${i}`, epoch: 1, mode: 'failover' }),
      ),
    );
    await phase('startVM (replica)', vms, () =>
      pool(vms, concurrency, (i) => client.startVM({ site: 'west', vm: `vm-${i}`, epoch: 1 })),
    );
    await phase('truth', 1, async () => {
      await client.truth();
    });
  } finally {
    client.close();
    child.kill('SIGTERM');
  }
  const per = (cpuMs: number, calls: number): string =>
    calls > 10 ? `${Math.round((cpuMs * 1000) / calls)} µs` : `${Math.round(cpuMs)} ms`;
  console.log(
    `| phase (${vms.toLocaleString('en-US')} VMs, ${concurrency} in flight) | calls | wall s | calls/s | client CPU per call | server CPU per call |`,
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.calls.toLocaleString('en-US')} | ${(r.wallMs / 1000).toFixed(2)} | ${Math.round((r.calls * 1000) / r.wallMs).toLocaleString('en-US')} | ${per(r.clientMs, r.calls)} | ${per(r.serverMs, r.calls)} |`,
    );
  }
}

if (process.argv.includes('--serve')) await serveChild();
else await main();
