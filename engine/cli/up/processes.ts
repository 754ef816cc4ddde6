/**
 * The processes `drctl up` runs, as a table: stages started in order, each process a ProcessSpec
 * with the role it plays in the printed summary. Two tables: today's engine processes, and the
 * control plane with one agent per site that replaces them once `drctl serve` and `drctl agent`
 * exist. Switching is the one line at the bottom (PROCESSES).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonLineWith, lineMatching, type ProcessSpec } from './child.ts';

/** What the table is filled from: ports are chosen before anything starts, so a restart reuses them. */
export interface UpContext {
  redis: { port: number; url: string; dir: string; password?: string };
  sim: { port: number; url: string; worldArgs: readonly string[] };
  /** The control plane's API (used by the control-plane table only): https, the vault's certificate. */
  api: { port: number; url: string };
  /**
   * The vault's folder (its key file, 0600, and ca.pem) and the agents' state folder (each
   * site's key and certificate), both under the run's logs folder.
   */
  vault: { dir: string; agentDir: string };
  /** The world's sites: one agent each. */
  sites: readonly string[];
  /**
   * Real ms between an agent's full inventory posts: the replication cycle on the world's clock
   * (`inventoryCycleMs`). @defaultValue the agent's own (30 s, a real-time cycle)
   */
  inventoryCycleMs?: number;
  prefix: string;
  /** The script catalog folder the control plane and the agents serve (absolute). */
  scriptCatalog?: string;
}

/** How a process shows in the summary: `control` gives `control.pid`, `agent` the `agents` by site. */
export type Role = 'redis' | 'sim' | 'control' | 'control-worker' | 'agent';

export interface UpProcess extends ProcessSpec {
  readonly role: Role;
  readonly site?: string;
}

export type ProcessTable = (ctx: UpContext) => UpProcess[][];

/** drctl itself, as a user runs it: node and bin/drctl.js (which loads the TypeScript through tsx). */
const DRCTL = fileURLToPath(new URL('../../../bin/drctl.js', import.meta.url));

function drctl(
  ctx: UpContext,
  name: string,
  role: Role,
  args: string[],
  readyKey: string,
  site?: string,
  env: Record<string, string> = { REDIS_URL: ctx.redis.url, DR_SIM_URL: ctx.sim.url },
): UpProcess {
  return {
    name,
    role,
    ...(site === undefined ? {} : { site }),
    command: process.execPath,
    args: [DRCTL, ...args, '--json'],
    env,
    ready: jsonLineWith(readyKey),
  };
}

/** A private Redis set up as production's (docker-compose.yml): AOF every second, no eviction. */
function redis(ctx: UpContext): UpProcess {
  return {
    name: 'redis',
    role: 'redis',
    command: 'redis-server',
    args: [
      ...['--port', String(ctx.redis.port), '--bind', '127.0.0.1', '--dir', ctx.redis.dir],
      // fsync always: Redis before 7.2 has no WAITAOF, and automatic failover is armed only where
      // its submission is durable before its first step (engine/control/auto).
      ...['--save', '', '--appendonly', 'yes', '--appendfsync', 'always'],
      ...['--maxmemory-policy', 'noeviction', '--protected-mode', 'no'],
      // The password from a file in the 0700 data folder, not argv (which `ps` shows every user).
      ...(ctx.redis.password === undefined ? [] : ['--include', passwordFile(ctx)]),
    ],
    // No --logfile: redis-server logs to stdout, which goes to redis.log.
    ready: lineMatching(/Ready to accept connections/),
  };
}

function sim(ctx: UpContext): UpProcess {
  return drctl(
    ctx,
    'sim',
    'sim',
    ['sim', 'serve', ...ctx.sim.worldArgs, '--port', String(ctx.sim.port)],
    'url',
  );
}

/** Today: the orchestrator and the control queue's worker (barriers, scripts, webhooks), one worker a site. */
export const engineProcesses: ProcessTable = (ctx) => [
  [redis(ctx)],
  [sim(ctx)],
  [
    drctl(ctx, 'orchestrator', 'control', ['orchestrator', '--prefix', ctx.prefix], 'orchestrator'),
    drctl(
      ctx,
      'worker-control',
      'control-worker',
      ['worker', '--site', 'control', '--prefix', ctx.prefix],
      'ready',
    ),
  ],
  ctx.sites.map((site) =>
    drctl(ctx, `worker-${site}`, 'agent', ['worker', '--site', site, '--prefix', ctx.prefix], 'ready', site),
  ),
];

/**
 * `drctl serve --vault-dir` (HTTPS API, vault, orchestrator, control-side actions) and `drctl agent`
 * a site over mTLS with the certificate up registered for it (--port so that a restarted control
 * plane keeps its URL; an agent holds no Redis credentials).
 */
export const controlPlaneProcesses: ProcessTable = (ctx) => [
  [redis(ctx)],
  [sim(ctx)],
  [
    drctl(
      ctx,
      'control',
      'control',
      [
        ...['serve', '--port', String(ctx.api.port), '--prefix', ctx.prefix],
        ...['--vault-dir', ctx.vault.dir],
        ...catalogArgs(ctx),
      ],
      'api',
    ),
  ],
  ctx.sites.map((site) =>
    drctl(
      ctx,
      `agent-${site}`,
      'agent',
      [
        ...['agent', '--site', site, '--hosts', ctx.sim.url, '--server', ctx.api.url],
        // Registered by up once the control plane runs (up-command.ts); a restart reuses that certificate.
        ...['--state-dir', ctx.vault.agentDir],
        // up supervises its agents: one it (re)starts replaces the session of the one that died.
        '--replace',
        ...catalogArgs(ctx),
        ...(ctx.inventoryCycleMs === undefined ? [] : ['--inventory-cycle-ms', String(ctx.inventoryCycleMs)]),
      ],
      'ready',
      site,
      {},
    ),
  ),
];

/** The table `drctl up` runs: the control plane and one agent a site. */
export const PROCESSES: ProcessTable = controlPlaneProcesses;

/** Hyper-V Replica's shortest cycle, in simulated ms: an agent posts every VM at least this often. */
const REPLICATION_CYCLE_MS = 30_000;
/** Floor of a scaled cycle: on a fast clock, a full post a few times a second is enough. */
const MIN_INVENTORY_CYCLE_MS = 250;

/**
 * The agents' inventory cycle in real ms for a world clock of `speed` simulated ms per real ms:
 * on `--speed 50` the 30 s replication cycle passes every 600 ms, and the vault must keep up.
 */
export function inventoryCycleMs(speed: number): number {
  return Math.max(MIN_INVENTORY_CYCLE_MS, Math.round(REPLICATION_CYCLE_MS / speed));
}

function catalogArgs(ctx: UpContext): string[] {
  return ctx.scriptCatalog === undefined ? [] : ['--script-catalog', ctx.scriptCatalog];
}

/** `requirepass` in a 0600 file of the private Redis's own 0700 folder. */
function passwordFile(ctx: UpContext): string {
  const file = join(ctx.redis.dir, 'auth.conf');
  writeFileSync(file, `requirepass ${ctx.redis.password ?? ''}\n`, { mode: 0o600 });
  return file;
}
