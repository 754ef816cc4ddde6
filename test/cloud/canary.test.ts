/**
 * Issue 11, the canary test: VM disk data never crosses into the control plane. Every VM gets a
 * unique canary string written into its disk data at the primary (the simulator's canary write,
 * before replication); a positive control reads it back at the replica, then again after the
 * failover. A drill and a planned failover then run, the agents and the CLI reaching the control
 * plane through a proxy that keeps every byte: it ends TLS on both sides (a certificate of the
 * vault's CA toward the clients, the agents' own certificates and keys toward the control plane),
 * so what it keeps is the decrypted HTTP the control plane received and sent, not TLS records. The canaries must be in none of: the bytes
 * the control plane received or sent, the log files of `drctl up`, the Redis keys and values,
 * and the AOF files. A probe string sent the same way (a run's --reason) and one put into Redis
 * by the test show that the same searches do find what is there.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionView } from '../../engine/client/index.ts';
import { openVault } from '../../engine/control/vault/index.ts';
import { useTempDirs } from '../support/temp.ts';
import { startProxy, type TcpProxy } from './proxy.ts';
import {
  agentDirOf,
  type Cloud,
  type OwnAgent,
  SOURCE,
  startCloud,
  startOwnAgent,
  TARGET,
  until,
  vmsOf,
} from './support.ts';

const temp = useTempDirs();
const VMS = vmsOf('a');

/** The needles found in any of the haystacks. */
function found(haystacks: Iterable<Buffer>, needles: readonly string[]): string[] {
  const hits = new Set<string>();
  for (const hay of haystacks) for (const needle of needles) if (hay.includes(needle)) hits.add(needle);
  return [...hits].sort();
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** How each type's whole value is read, as RESP arrays of bytes. */
const READS: Record<string, (key: Buffer) => unknown[]> = {
  string: (key) => ['GET', key],
  hash: (key) => ['HGETALL', key],
  list: (key) => ['LRANGE', key, 0, -1],
  set: (key) => ['SMEMBERS', key],
  zset: (key) => ['ZRANGE', key, 0, -1],
  stream: (key) => ['XRANGE', key, '-', '+'],
};

function flatBuffers(value: unknown): Buffer[] {
  if (Buffer.isBuffer(value)) return [value];
  if (Array.isArray(value)) return value.flatMap(flatBuffers);
  return [];
}

/**
 * Every key name and every value of every key, read by its type (a DUMP would hide strings that
 * Redis stores LZF-compressed).
 */
async function redisContents(redis: Redis): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', 1000);
    cursor = String(next);
    for (const key of keys) {
      out.push(key);
      const type = await redis.type(key);
      // Gone between SCAN and TYPE (a key that expired meanwhile, e.g. BullMQ's stalled-check):
      // nothing left to search. Its name is searched above.
      if (type === 'none') continue;
      const read = READS[type];
      if (read === undefined) throw new Error(`key ${key.toString()} of type ${type}: not read`);
      const [command, ...args] = read(key) as [string, ...Array<string | number | Buffer>];
      out.push(...flatBuffers(await redis.callBuffer(command, ...args)));
    }
  } while (cursor !== '0');
  return out;
}

describe.skipIf(process.platform !== 'linux')(
  'VM data never reaches the control plane (canaries)',
  {
    timeout: 180_000,
  },
  () => {
    let cloud: Cloud;
    let proxy: TcpProxy;
    let redis: Redis;
    const agents: OwnAgent[] = [];
    const canaries = new Map(VMS.map((vm) => [vm, `canary-${vm}-${randomBytes(12).toString('hex')}`]));
    const seqs = new Map<string, number>();
    const probe = `canary-probe-${randomBytes(12).toString('hex')}`;

    beforeAll(async () => {
      cloud = await startCloud(temp('cloud-canary-'), { plans: ['a'], restart: false });
      redis = new Redis(cloud.line.redis, { maxRetriesPerRequest: 1 });
      // The proxy's own server certificate from the vault (the test holds its key file, as an
      // operator of the control plane would): the agents and the CLI trust it as the control plane.
      const vault = await openVault({
        redis,
        prefix: cloud.line.prefix,
        dir: join(cloud.line.logs, 'vault'),
      });
      proxy = await startProxy(cloud.line.api, {
        server: await vault.serverCredentials(['127.0.0.1']),
        ca: vault.trusted,
        agentDir: agentDirOf(cloud),
      });
      // up's agents go (--no-restart: they stay down); ours reach the control plane through the proxy.
      for (const site of [SOURCE, TARGET]) {
        process.kill(cloud.pidOf(`agent-${site}`), 'SIGTERM');
        await cloud.waitForEvent((e) => e.event === 'exited' && e.name === `agent-${site}`);
        agents.push(startOwnAgent(cloud, site, proxy.url, join(cloud.line.logs, `own-agent-${site}.log`)));
      }
      await Promise.all(agents.map((a) => a.ready));
    }, 180_000);
    afterAll(async () => {
      redis?.disconnect();
      await Promise.all(agents.map((a) => a.kill()));
      await proxy?.close();
      await cloud?.close();
    });

    it('each canary written at the primary reaches its own replica (positive control), and no other VM holds it', async () => {
      for (const [vm, canary] of canaries) seqs.set(vm, await cloud.sim.writeCanary(SOURCE, vm, canary));
      for (const [vm, canary] of canaries) {
        const seq = seqs.get(vm) ?? -1;
        // The next replication cycle (30 s simulated, under a second here) carries it.
        await until(
          `${vm}'s canary at the replica`,
          async () => (await cloud.sim.readCanary(TARGET, vm, seq)) === canary,
        );
        // The control reads the place, not only the string: another VM's disk does not hold it.
        for (const other of VMS.filter((o) => o !== vm))
          expect(await cloud.sim.readCanary(TARGET, other, seq)).not.toBe(canary);
      }
    });

    it('a drill and a planned failover through the proxy; the failed-over VMs hold their canaries', async () => {
      const drill = await cloud.cliJson<ExecutionView>(['drill', cloud.planFile('a')], proxy.url);
      expect(drill.status).toBe('awaiting-cleanup');
      const cleanup = await cloud.cliJson<ExecutionView>(['cleanup', drill.id], proxy.url);
      expect(cleanup.status).toBe('completed');
      const run = await cloud.cliJson<ExecutionView>(
        ['failover', cloud.planFile('a'), '--planned', '--reason', probe],
        proxy.url,
      );
      expect(run.status).toBe('completed');
      for (const [vm, canary] of canaries)
        expect(await cloud.sim.readCanary(TARGET, vm, seqs.get(vm) ?? -1), vm).toBe(canary);
    });

    it('no canary in the bytes the control plane received or sent, its logs, its Redis or the AOF; the probe is found', async () => {
      const needles = [...canaries.values()];
      // (a) Everything that crossed the proxy, both ways, decrypted: the agents' and the CLI's traffic
      // (the request lines below are readable: plain HTTP, not TLS records).
      const wire = [...proxy.toServer(), ...proxy.fromServer()];
      const sent = Buffer.concat(proxy.toServer()).toString('latin1');
      for (const site of [SOURCE, TARGET]) {
        expect(sent).toContain(`POST /api/v1/agents/${site}/results`);
        expect(sent).toContain(`POST /api/v1/agents/${site}/inventory`);
      }
      expect(sent).toContain('POST /api/v1/executions');
      expect(found(wire, needles)).toEqual([]);
      expect(found(wire, [probe])).toEqual([probe]);

      // (b) Every log file of drctl up (and of our agents, in the same folder).
      const logs = filesUnder(cloud.line.logs).map((file) => readFileSync(file));
      expect(logs.length).toBeGreaterThanOrEqual(7);
      expect(found(logs, needles)).toEqual([]);
      expect(found(logs, ['"site":"dc-west"'])).toEqual(['"site":"dc-west"']);

      // (c) Every Redis key and value, and the AOF files (flushed within a second: appendfsync everysec).
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const dir = /--dir (\S+)/.exec(readFileSync(cloud.line.processes.redis?.log ?? '', 'utf8'))?.[1] ?? '';
      const aof = () => filesUnder(dir).map((file) => readFileSync(file));
      expect(found(await redisContents(redis), needles)).toEqual([]);
      expect(found(aof(), needles)).toEqual([]);
      // The probe crossed the same way a leak would (a request body, stored by the control plane).
      expect(found(await redisContents(redis), [probe])).toEqual([probe]);
      expect(found(aof(), [probe])).toEqual([probe]);

      // A canary-shaped string the test puts into a hash field itself: both searches find it.
      const planted = `canary-planted-${randomBytes(12).toString('hex')}`;
      await redis.hset(`${cloud.line.prefix}:canary-test`, 'field', `x${planted}x`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(found(await redisContents(redis), [...needles, planted])).toEqual([planted]);
      expect(found(aof(), [...needles, planted])).toEqual([planted]);
    });
  },
);
