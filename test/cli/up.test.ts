/**
 * `drctl up` as a user runs it (real processes, its own private Redis): the JSON line, a drill
 * through today's CLI against it, a worker killed by SIGKILL (restarted, or left down with
 * --no-restart), and a stop by SIGTERM, or a SIGKILL of up itself, that leaves no process behind.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { sweepStaleRedisDirs } from '../../engine/cli/up/redis-dir.ts';
import { freePort } from '../../engine/redis/index.ts';
import { useTempDirs } from '../support/temp.ts';
import { type DrctlProcess, drctl, startDrctl } from './support.ts';

const temp = useTempDirs();

/** Two VMs, boots of seconds: a drill takes about a second of wall time on a 50× clock. */
const TINY_PLAN = `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: tiny }
spec:
  source: dc-east
  target: dc-west
  recoveryPoint: latest
  vms:
    - { name: t-db, bootEstimate: 20s }
    - { name: t-app, dependsOn: [t-db], bootEstimate: 20s }
`;

interface UpLine {
  api: string | null;
  dashboard: string | null;
  sim: string;
  redis: string;
  logs: string;
  control: { pid: number };
  agents: Record<string, { pid: number }>;
  processes: Record<string, { pid: number; log: string }>;
  env: Record<string, string>;
  tokenFile?: string | null;
}

function jsonLines(out: string): Array<Record<string, unknown>> {
  return out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function startUp(extra: string[] = []): Promise<{ up: DrctlProcess; line: UpLine; plan: string }> {
  const dir = temp('drctl-up-');
  const plan = join(dir, 'tiny.yaml');
  writeFileSync(plan, TINY_PLAN);
  const up = startDrctl(
    [
      'up',
      '--for-plan',
      plan,
      '--clock',
      'scaled',
      '--speed',
      '50',
      '--logs',
      join(dir, 'logs'),
      '--json',
      '--api-port',
      String(await freePort()),
      ...extra,
    ],
    // Its own state folder: up writes its admin token there, not in the user's.
    { env: { LOG_LEVEL: 'info', XDG_STATE_HOME: join(dir, 'state') } },
  );
  await up.waitFor(/"agents"/);
  const line = jsonLines(up.stdout()).find((l) => 'agents' in l) as unknown as UpLine;
  return { up, line, plan };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Parent pid and command line of a live process (Linux /proc), or undefined once it is gone. */
function proc(pid: number): { ppid: number; cmdline: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return undefined;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return { ppid, cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ') };
  } catch {
    return undefined;
  }
}

/** The live processes whose parent is `pid`. */
function childrenOf(pid: number): Array<{ pid: number; cmdline: string }> {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => ({ pid: Number(entry), info: proc(Number(entry)) }))
    .filter((p) => p.info?.ppid === pid)
    .map((p) => ({ pid: p.pid, cmdline: p.info?.cmdline ?? '' }));
}

const allPids = (line: UpLine): number[] => Object.values(line.processes).map((p) => p.pid);

/** The private Redis's data folder, from the command line redis.log records. */
function redisDir(line: UpLine): string {
  const dir = /--dir (\S+)/.exec(readFileSync(line.processes.redis?.log ?? '', 'utf8'))?.[1];
  if (dir === undefined) throw new Error('redis.log names no --dir');
  return dir;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  if (!check()) throw new Error(`still not so after 30 s: ${what}`);
}

describe.skipIf(process.platform !== 'linux')('drctl up', { timeout: 180_000 }, () => {
  it('runs the control plane and an agent a site, which a drill works against through the API alone; --no-restart leaves a killed agent down; SIGTERM stops everything', async () => {
    const { up, line, plan } = await startUp(['--no-restart']);
    const upPid = up.child.pid ?? -1;
    // No unauthenticated mode: HTTPS with the vault's server certificate, tokens for people.
    expect(line.api).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    // The dashboard is the control plane's root, on the same TLS.
    expect(line.dashboard).toBe(`${line.api}/`);
    expect(line.sim).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(line.redis).toMatch(/^redis:\/\/:[\w-]+@127\.0\.0\.1:\d+$/);
    // The CLI needs the control plane's URL only (and the simulator's, for `drctl sim`).
    expect(line.env).toEqual({
      DR_SERVER: line.api,
      DR_SIM_URL: line.sim,
      DR_TOKEN: expect.stringMatching(/^drt_/),
      DR_CA_FILE: join(line.logs, 'vault', 'ca.pem'),
    });
    // The vault's key file is the one secret: 0600, apart from Redis.
    expect(statSync(join(line.logs, 'vault', 'vault.key')).mode & 0o777).toBe(0o600);
    const ca = readFileSync(line.env.DR_CA_FILE ?? '', 'utf8');
    expect(ca).toContain('BEGIN CERTIFICATE');
    // The admin token is handed to the local user alone: a 0600 file the CLI reads for this API.
    expect(line.tokenFile).toEqual(expect.any(String));
    expect(statSync(line.tokenFile ?? '').mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(line.tokenFile ?? '', 'utf8'))).toMatchObject({
      server: line.api,
      token: line.env.DR_TOKEN,
      ca: line.env.DR_CA_FILE,
    });
    // Its certificate is the vault CA's: refused without that CA, trusted with it.
    await expect(fetch(`${line.api}/healthz`)).rejects.toThrow(/fetch failed/);
    const trusted = new Agent({ connect: { ca } });
    const unauthenticated = await fetch(`${line.api}/api/v1/executions`, {
      dispatcher: trusted,
    } as RequestInit);
    expect(unauthenticated.status).toBe(401);
    await trusted.close();
    // The CLI finds that file by itself (no DR_TOKEN, no DR_CA_FILE), for this API only.
    const state = join(dirname(line.tokenFile ?? ''), '..', '..');
    const fromFile = await drctl(['status', '--json'], {
      env: { DR_SERVER: line.api ?? '', XDG_STATE_HOME: state },
    });
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(Object.keys(line.agents).sort()).toEqual(['dc-east', 'dc-west']);
    expect(line.control.pid).toBe(line.processes.control?.pid);
    expect(Object.keys(line.processes)).toEqual([
      'redis',
      'sim',
      'control',
      'agent-dc-east',
      'agent-dc-west',
    ]);
    for (const pid of allPids(line)) expect(proc(pid)?.ppid).toBe(upPid);
    expect(proc(line.agents['dc-east']?.pid ?? -1)?.cmdline).toContain('agent --site dc-east');
    // --speed 50: the 30 s replication cycle passes every 600 ms of real time.
    expect(proc(line.agents['dc-east']?.pid ?? -1)?.cmdline).toContain('--inventory-cycle-ms 600');
    // The vault's Redis answers only with the password this up made (the other users of the
    // machine see the port, not the password: it is in no command line).
    const stranger = new Redis(line.redis.replace(/\/\/[^@]*@/, '//'), { maxRetriesPerRequest: 1 });
    stranger.on('error', () => {});
    await expect(stranger.ping()).rejects.toThrow(/NOAUTH/);
    stranger.disconnect();
    for (const pid of allPids(line))
      expect(proc(pid)?.cmdline ?? '').not.toContain(new URL(line.redis).password);
    const redis = new Redis(line.redis, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      redis.disconnect();
    }

    // A drill through the CLI, with nothing but the variables the line gives (no REDIS_URL).
    const drill = await drctl(['drill', plan, '--json'], { env: line.env });
    expect(drill.stderr).not.toMatch(/\n\s+at /);
    expect(drill.code).toBe(0);
    const view = JSON.parse(drill.stdout) as { status: string; vms: Record<string, string> };
    expect(view.status).toBe('awaiting-cleanup');
    expect(view.vms).toEqual({ 't-db': 'ready', 't-app': 'ready' });
    // The control plane, the one process that logs each execution, wrote its own log.
    expect(readFileSync(line.processes.control?.log ?? '', 'utf8')).toContain(drillId(drill.stdout));
    expect(readFileSync(line.processes['agent-dc-west']?.log ?? '', 'utf8')).toContain('"site":"dc-west"');
    // Each agent has its own key (0600) and the certificate up registered for it.
    for (const site of ['dc-east', 'dc-west']) {
      expect(statSync(join(line.logs, 'agents', site, 'agent.key')).mode & 0o777).toBe(0o600);
      expect(proc(line.agents[site]?.pid ?? -1)?.cmdline).toContain(
        `--state-dir ${join(line.logs, 'agents')}`,
      );
    }

    const east = line.agents['dc-east']?.pid ?? -1;
    process.kill(east, 'SIGKILL');
    await up.waitFor(/"event":"exited"/);
    expect(jsonLines(up.stdout()).filter((l) => 'event' in l)).toEqual([
      {
        event: 'exited',
        name: 'agent-dc-east',
        pid: east,
        code: null,
        signal: 'SIGKILL',
        restarting: false,
      },
    ]);
    // Three times the 0.5 s a restart would have waited: nothing came back.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(childrenOf(upPid).filter((c) => c.cmdline.includes('--site dc-east'))).toEqual([]);
    expect(up.stdout()).not.toContain('"restarted"');

    const dataDir = redisDir(line);
    up.child.kill('SIGTERM');
    const run = await up.done;
    expect(run.code).toBe(143);
    expect(jsonLines(run.stdout).at(-1)).toMatchObject({ stopped: true, signal: 'SIGTERM' });
    for (const pid of allPids(line)) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(childrenOf(upPid)).toEqual([]);
    expect(() => readdirSync(dataDir)).toThrow(/ENOENT/);
    // redis-server was stopped, not killed: its AOF was flushed on the way out.
    expect(readFileSync(line.processes.redis?.log ?? '', 'utf8')).toContain('ready to exit');
  });

  it('restarts an agent and the private Redis killed by SIGKILL (a drill then works); a SIGKILL of up itself takes every child with it', async () => {
    // Ports 0 are free ones picked by up, which every child is told (the agents were sent to port 0).
    const { up, line, plan } = await startUp(['--api-port', '0', '--sim-port', '0', '--redis-port', '0']);
    for (const url of [line.api, line.sim, line.redis]) expect(url).not.toMatch(/:0$/);
    const upPid = up.child.pid ?? -1;
    const west = line.agents['dc-west']?.pid ?? -1;
    process.kill(west, 'SIGKILL');
    await up.waitFor(/"event":"restarted"/);
    const restarted = jsonLines(up.stdout()).find((l) => l.event === 'restarted') as { pid: number };
    expect(restarted).toMatchObject({ name: 'agent-dc-west', restarts: 1 });
    expect(restarted.pid).not.toBe(west);
    expect(alive(west)).toBe(false);
    expect(proc(restarted.pid)?.ppid).toBe(upPid);
    expect(proc(restarted.pid)?.cmdline).toContain('agent --site dc-west');
    // It comes back with the certificate saved at registration: no key is traded again.
    expect(proc(restarted.pid)?.cmdline).not.toContain('--register');

    // The private Redis too: it comes back on its port with its AOF, and the engine reconnects.
    const redisPid = line.processes.redis?.pid ?? -1;
    process.kill(redisPid, 'SIGKILL');
    await up.waitFor(/"event":"restarted","name":"redis"/);
    const redisBack = jsonLines(up.stdout()).find((l) => l.event === 'restarted' && l.name === 'redis') as {
      pid: number;
    };
    // A drill the restarted agent at dc-west (its test VMs) and the restarted Redis carry.
    const drill = await drctl(['drill', plan, '--json'], { env: line.env });
    expect(drill.code).toBe(0);
    expect((JSON.parse(drill.stdout) as { status: string }).status).toBe('awaiting-cleanup');

    // No handler of up runs on SIGKILL: the kernel's parent-death signal stops its children.
    const pids = [
      ...allPids(line).filter((pid) => pid !== west && pid !== redisPid),
      restarted.pid,
      redisBack.pid,
    ];
    const dataDir = redisDir(line);
    up.child.kill('SIGKILL');
    await up.done;
    await until(() => pids.every((pid) => !alive(pid)), `pids ${pids.filter(alive).join(', ')} alive`);
    // What a SIGKILLed up cannot do, remove the private Redis's data folder, the next up does.
    expect(readdirSync(dataDir)).toContain('appendonlydir');
    expect(sweepStaleRedisDirs(dirname(dataDir))).toContain(dataDir);
    expect(() => readdirSync(dataDir)).toThrow(/ENOENT/);
  });

  it('refuses a missing world before starting anything (exit 2)', async () => {
    const none = await drctl(['up']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('give exactly one of --world <world.yaml> or --for-plan <plan.yaml>');
    const missing = await drctl(['up', '--world', '/nonexistent/world.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/world.yaml');
    expect(missing.stdout).toBe('');
  });
});

function drillId(stdout: string): string {
  return (JSON.parse(stdout) as { id: string }).id;
}
