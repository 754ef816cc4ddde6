/**
 * Registration of an agent end to end (issue 12, target <= 2 s): `drctl site register`'s key
 * (createRegistrationKey), then what `drctl agent --register` does (its P-256 key, GET /vault/ca
 * checked against the key's pin, the CSR, POST /vault/register), then its first hello over mTLS
 * with the new certificate. A control plane with its vault in this process, on a private
 * redis-server (or REDIS_URL). `npx tsx bench/agent-register.ts [--runs 20]`. Process start-up
 * of the CLI (tsx) is not in the figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createAgentLink, registerAgent } from '../engine/agent/index.ts';
import { createLogger } from '../engine/common/index.ts';
import { CONTROL_VERSION, controlRoutes, startControlPlane } from '../engine/control/index.ts';
import { createRegistrationKey, initVault, vaultFingerprint } from '../engine/control/vault/index.ts';
import { startPrivateRedis } from '../engine/redis/index.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
const server = process.env.REDIS_URL ? undefined : await startPrivateRedis();
const redisUrl = process.env.REDIS_URL ?? server?.url ?? '';
const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
const prefix = `bench-register-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'drorch-bench-vault-'));
const silent = createLogger('bench', { level: 'silent' });
await initVault({ redis, prefix, dir });
const control = await startControlPlane({
  redisUrl,
  prefix,
  port: 0,
  routes: controlRoutes,
  logger: silent,
  vault: { dir },
});

const phases = {
  key: [] as number[],
  register: [] as number[],
  hello: [] as number[],
  total: [] as number[],
};
for (let i = 0; i < runs; i += 1) {
  const site = `dc-${i}`;
  const t0 = performance.now();
  const { key } = await createRegistrationKey(redis, prefix, site, await vaultFingerprint(redis, prefix));
  const t1 = performance.now();
  const identity = await registerAgent({ server: control.url, site, key, dir: join(dir, 'agents') });
  const t2 = performance.now();
  const link = createAgentLink({
    server: control.url,
    identity,
    log: silent,
    hello: async () => ({
      site,
      agentId: `bench-${i}`,
      version: CONTROL_VERSION,
      scriptCatalog: { scripts: {} },
    }),
  });
  await link.hello();
  const t3 = performance.now();
  phases.key.push(t1 - t0);
  phases.register.push(t2 - t1);
  phases.hello.push(t3 - t2);
  phases.total.push(t3 - t0);
}

const pct = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const row = (name: string, xs: number[]): string =>
  `| ${name.padEnd(34)} | ${pct(xs, 50).toFixed(1).padStart(8)} | ${pct(xs, 95).toFixed(1).padStart(8)} | ${Math.max(
    ...xs,
  )
    .toFixed(1)
    .padStart(8)} |`;
console.log(`agent registration end to end, ${runs} runs (ms)\n`);
console.log('| phase                              |      p50 |      p95 |      max |');
console.log('| ---------------------------------- | -------: | -------: | -------: |');
console.log(row('site register (key)', phases.key));
console.log(row('agent: key, pin, CSR, certificate', phases.register));
console.log(row('agent: first hello over mTLS', phases.hello));
console.log(row('total', phases.total));
const worst = Math.max(...phases.total);
console.log(
  `\ntarget <= 2000 ms end to end: ${worst <= 2000 ? 'met' : 'NOT met'} (worst ${worst.toFixed(0)} ms)`,
);

await control.close(2000);
await redis.quit();
await server?.stop();
rmSync(dir, { recursive: true, force: true });
