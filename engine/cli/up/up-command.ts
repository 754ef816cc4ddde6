import { randomBytes } from 'node:crypto';
/**
 * `drctl up`: the whole system on one machine, for evaluation and tests. A private Redis (AOF,
 * noeviction), the simulated world, the control plane and one agent a site, each
 * a supervised child with its own log file (processes.ts has the table, supervisor.ts runs it).
 * Prints where everything is (one JSON line with --json), then each exit and restart; Ctrl-C,
 * SIGTERM or SIGHUP stops them all, last started first, and exits 128 + the signal's number.
 */
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { Redis } from 'ioredis';
import { whoAmI, writeUpToken } from '../../client/index.ts';
import { InputError } from '../../common/index.ts';
import { createFirstAdminToken } from '../../control/auth/index.ts';
import { initVault } from '../../control/vault/index.ts';
import { DEFAULT_PREFIX } from '../../executor/index.ts';
import { freePort, RedisUnavailableError, redactRedisUrl, redisServerAvailable } from '../../redis/index.ts';
import { stateDirCandidates } from '../crash-log.ts';
import { registerSiteAgent } from '../trust-setup.ts';
import {
  addWorldOptions,
  duration,
  nonNegativeInt,
  type WorldFlags,
  worldArgs,
  worldSites,
} from '../world-options.ts';
import { inventoryCycleMs, PROCESSES, type UpContext, type UpProcess } from './processes.ts';
import { makeRedisDir, sweepStaleRedisDirs } from './redis-dir.ts';
import { type ProcessStatus, Supervisor, type SupervisorEvent } from './supervisor.ts';

interface UpFlags extends WorldFlags {
  logs?: string;
  restart: boolean;
  grace: number;
  startTimeout: number;
  simPort?: number;
  apiPort?: number;
  redisPort?: number;
  prefix: string;
  scriptCatalog?: string;
  json?: boolean;
}

const STOP_SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

export function registerUpCommand(program: Command): void {
  addWorldOptions(
    program
      .command('up')
      .description(
        'Run the whole system on this machine: a private Redis, the simulated world, the control plane (drctl serve) and one agent a site (drctl agent), supervised',
      ),
  )
    .option(
      '--logs <dir>',
      'folder for the log files, one a process (default: a new folder under $XDG_STATE_HOME/drorch/up)',
    )
    .option('--no-restart', 'leave a process that dies down (fault tests) instead of restarting it')
    .addOption(
      new Option('--grace <duration>', 'on stop, how long each process may take before its group is killed')
        .argParser(duration)
        .default(15_000, '15s'),
    )
    .addOption(
      new Option('--start-timeout <duration>', 'how long each process may take to print its ready line')
        .argParser(duration)
        .default(60_000, '60s'),
    )
    .option('--sim-port <n>', "the simulator's port (default or 0: a free one)", nonNegativeInt)
    .option(
      '--api-port <n>',
      `the control plane's port (default: ${DEFAULT_API_PORT}, what the CLI reaches without DR_SERVER, when it is free; else, or with 0, a free one)`,
      nonNegativeInt,
    )
    .option('--redis-port <n>', "the private Redis's port (default or 0: a free one)", nonNegativeInt)
    .option('--prefix <prefix>', 'Redis key prefix of the engine', DEFAULT_PREFIX)
    .option(
      '--script-catalog <dir>',
      'folder of recovery scripts the control plane and the agents serve (default: DR_SCRIPT_CATALOG)',
    )
    .option('--json', 'print where everything is as one JSON line, then each event as a JSON line')
    .action(async (flags: UpFlags) => await up(flags));
}

/** A new folder for this run's logs: under the first writable state folder, else the temp folder. */
function logsFolder(flag: string | undefined): string {
  if (flag !== undefined) {
    mkdirSync(flag, { recursive: true });
    return resolve(flag);
  }
  const run = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
  for (const state of stateDirCandidates()) {
    try {
      const dir = join(state, 'up', run);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {
      // not writable (read-only home): the next candidate
    }
  }
  return mkdtempSync(join(tmpdir(), 'drorch-up-logs-'));
}

async function up(flags: UpFlags): Promise<void> {
  // Bad input (the world, the plan, a flag) exits 2 before anything starts.
  const world: WorldFlags = {
    ...flags,
    ...(flags.world === undefined ? {} : { world: resolve(flags.world) }),
    ...(flags.forPlan === undefined ? {} : { forPlan: resolve(flags.forPlan) }),
  };
  const { sites, speed } = await worldSites(world);
  if (!redisServerAvailable())
    throw new RedisUnavailableError('drctl up runs its own redis-server, and none is on PATH');
  if (process.env.REDIS_URL)
    process.stderr.write('drctl up: REDIS_URL is set but not used: up runs a private Redis of its own\n');

  const catalog = flags.scriptCatalog ?? process.env.DR_SCRIPT_CATALOG;
  if (catalog !== undefined && !existsSync(catalog)) {
    throw new InputError(
      'NO_SCRIPT_CATALOG_DIR',
      `the script catalog ${catalog} (--script-catalog or DR_SCRIPT_CATALOG) does not exist; give the folder your recovery scripts are in, e.g. scripts/catalog`,
    );
  }
  const logs = logsFolder(flags.logs);
  // 0 is "a free one", picked here: each child is told the port it will have, and the others reach it there.
  const given = async (port: number | undefined): Promise<number | undefined> =>
    port === 0 ? await freePort() : port;
  const redisPort = (await given(flags.redisPort)) ?? (await freePort());
  const simPort = (await given(flags.simPort)) ?? (await freePort());
  const apiPort =
    (await given(flags.apiPort)) ??
    ((await portIsFree(DEFAULT_API_PORT)) ? DEFAULT_API_PORT : await freePort());
  sweepStaleRedisDirs();
  const redisDir = makeRedisDir();
  const redisPassword = randomBytes(18).toString('base64url');
  const removeRedisDir = (): void => rmSync(redisDir, { recursive: true, force: true });
  process.once('exit', removeRedisDir);
  const ctx: UpContext = {
    // A password only this up knows (and prints to its operator): other users of the machine
    // cannot reach the vault through the loopback port.
    redis: {
      port: redisPort,
      url: `redis://:${redisPassword}@127.0.0.1:${redisPort}`,
      dir: redisDir,
      password: redisPassword,
    },
    sim: { port: simPort, url: `http://127.0.0.1:${simPort}`, worldArgs: worldArgs(world) },
    api: { port: apiPort, url: `https://127.0.0.1:${apiPort}` },
    vault: { dir: join(logs, 'vault'), agentDir: join(logs, 'agents') },
    sites,
    ...(speed === undefined ? {} : { inventoryCycleMs: inventoryCycleMs(speed) }),
    prefix: flags.prefix,
    ...(catalog === undefined ? {} : { scriptCatalog: resolve(catalog) }),
  };
  const stages = PROCESSES(ctx);
  const table = new Map(stages.flat().map((p) => [p.name, p]));
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const supervisor = new Supervisor({
    logs,
    restart: flags.restart,
    graceMs: flags.grace,
    startTimeoutMs: flags.startTimeout,
    onEvent: (event) => print(flags.json ? JSON.stringify(event) : eventLine(event)),
  });

  let stopping: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping !== undefined) {
      supervisor.kill(); // a second Ctrl-C: no more waiting
      return;
    }
    stopping = signal;
    if (!flags.json)
      process.stderr.write(`\ndrctl up: ${signal}: stopping every process, last started first\n`);
    void supervisor.stop().then(() => {
      removeRedisDir();
      print(
        flags.json
          ? JSON.stringify(stoppedLine(signal, supervisor.status()))
          : `drctl up: all stopped (logs in ${logs})`,
      );
      process.exit(128 + STOP_SIGNALS[signal as keyof typeof STOP_SIGNALS]);
    });
  };
  for (const signal of Object.keys(STOP_SIGNALS)) process.on(signal, onSignal);

  // No unauthenticated mode, even here: the vault (its CA, the first admin token) once Redis runs,
  // before the control plane; each site's agent registered once the control plane answers.
  let admin: string | undefined;
  try {
    for (const stage of stages) {
      await supervisor.startStage(stage);
      if (stopping !== undefined) break;
      if (stage.some((p) => p.role === 'redis')) admin = await makeVault(ctx);
      if (stage.some((p) => p.role === 'control')) await registerAgents(ctx, supervisor.status(), table);
    }
  } catch (error) {
    await supervisor.stop();
    removeRedisDir();
    throw error;
  }
  if (stopping !== undefined) return; // a signal during the start: its handler ends the process
  const summary = summaryOf(ctx, logs, supervisor.status(), table);
  if (summary.api !== null && admin !== undefined) {
    // The local user gets the admin token (a 0600 file the CLI reads for this server, with the CA
    // file it trusts the server by; DR_TOKEN and DR_CA_FILE in the summary).
    const caFile = join(ctx.vault.dir, 'ca.pem');
    summary.env.DR_TOKEN = admin;
    summary.env.DR_CA_FILE = caFile;
    summary.tokenFile = writeUpToken(summary.api, admin, process.env, caFile) ?? null;
  }
  if (flags.json) print(JSON.stringify(summary));
  else for (const line of humanLines(summary, supervisor.status())) print(line);
  // Runs until a signal (the handler above exits), even once every process is down (--no-restart):
  // a timer keeps the event loop alive when no child does.
  setInterval(() => {}, 1 << 30);
  await new Promise(() => {});
}

interface UpSummary {
  /** The control plane's API once `drctl serve` runs (null with today's processes). */
  api: string | null;
  /** The dashboard: the control plane's root, served by it (null without a control plane). */
  dashboard: string | null;
  sim: string;
  redis: string;
  logs: string;
  prefix: string;
  control: { pid: number | undefined };
  agents: Record<string, { pid: number | undefined }>;
  processes: Record<string, { pid: number | undefined; log: string }>;
  /** What a shell needs to use the CLI against this system. */
  env: Record<string, string>;
  /** Where the admin token was written for the CLI (0600), or null when nowhere was writable. */
  tokenFile?: string | null;
}

async function withUpRedis<T>(ctx: UpContext, run: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(ctx.redis.url, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await run(redis);
  } finally {
    redis.disconnect();
  }
}

/**
 * The vault (`drctl vault init`: key file 0600 and ca.pem in ctx.vault.dir) and its first admin
 * token, owned by the user who ran `drctl up`.
 */
async function makeVault(ctx: UpContext): Promise<string> {
  return await withUpRedis(ctx, async (redis) => {
    const owner =
      whoAmI()
        .replace(/[^\w.@+-]/g, '_')
        .slice(0, 100) || 'admin';
    const made = await initVault({
      redis,
      prefix: ctx.prefix,
      dir: ctx.vault.dir,
      firstAdminToken: async () => (await createFirstAdminToken(redis, ctx.prefix, { owner })).token,
    });
    if (made.adminToken === undefined) throw new Error('the vault made no admin token');
    return made.adminToken;
  });
}

/**
 * Each site's agent registered (`drctl site register` and `drctl agent --register`, in process):
 * its key and certificate in ctx.vault.agentDir, which the agent processes load (and renew).
 */
async function registerAgents(
  ctx: UpContext,
  status: ProcessStatus[],
  table: Map<string, UpProcess>,
): Promise<void> {
  const control = status.find((p) => table.get(p.name)?.role === 'control');
  const server = typeof control?.ready?.api === 'string' ? control.ready.api : ctx.api.url;
  await withUpRedis(ctx, async (redis) => {
    for (const site of ctx.sites) {
      await registerSiteAgent({ redis, prefix: ctx.prefix, server, site, agentDir: ctx.vault.agentDir });
    }
  });
}

function summaryOf(
  ctx: UpContext,
  logs: string,
  status: ProcessStatus[],
  table: Map<string, UpProcess>,
): UpSummary {
  const byRole = (p: ProcessStatus) => table.get(p.name);
  const control = status.find((p) => byRole(p)?.role === 'control');
  const api = control?.ready?.api;
  const agents: UpSummary['agents'] = {};
  for (const p of status) {
    const site = byRole(p)?.site;
    if (byRole(p)?.role === 'agent' && site !== undefined) agents[site] = { pid: p.pid };
  }
  return {
    api: typeof api === 'string' ? api : null,
    dashboard: typeof api === 'string' ? `${api.replace(/\/+$/, '')}/` : null,
    sim: ctx.sim.url,
    redis: ctx.redis.url,
    logs,
    prefix: ctx.prefix,
    control: { pid: control?.pid },
    agents,
    processes: Object.fromEntries(status.map((p) => [p.name, { pid: p.pid, log: p.log }])),
    // With a control plane the CLI needs only its URL (and the simulator's, for `drctl sim`).
    env:
      typeof api === 'string'
        ? { DR_SERVER: api, DR_SIM_URL: ctx.sim.url }
        : { REDIS_URL: ctx.redis.url, DR_SIM_URL: ctx.sim.url },
  };
}

function humanLines(summary: UpSummary, status: ProcessStatus[]): string[] {
  const width = Math.max(...status.map((p) => p.name.length));
  return [
    `drctl up: ${status.length} processes running, logs in ${summary.logs}`,
    ...status.map((p) => {
      const where =
        p.name === 'redis'
          ? `  ${redactRedisUrl(summary.redis)} (appendonly yes; its password is in the --json line)`
          : p.name === 'sim'
            ? `  ${summary.sim}`
            : '';
      return `  ${p.name.padEnd(width)}  pid ${p.pid}${where}`;
    }),
    ...(summary.dashboard === null
      ? []
      : [`  Dashboard: ${summary.dashboard} (sign in with the admin token, DR_TOKEN below)`]),
    ...(summary.api === null ? [] : [`  API: ${summary.api}`]),
    ...(summary.tokenFile === undefined || summary.tokenFile === null
      ? []
      : [`  admin token (DR_TOKEN below) also in ${summary.tokenFile}, read by the CLI for this API`]),
    'To run commands against it from another shell:',
    ...Object.entries(summary.env).map(([name, value]) => `  export ${name}=${value}`),
    ...(summary.prefix === DEFAULT_PREFIX || summary.api !== null
      ? []
      : [`  (and --prefix ${summary.prefix} on every command)`]),
    'Ctrl-C stops them all.',
  ];
}

function eventLine(event: SupervisorEvent): string {
  switch (event.event) {
    case 'exited': {
      const how = event.signal !== null ? `was killed by ${event.signal}` : `exited with code ${event.code}`;
      const next = event.restarting
        ? `restarting in ${((event.inMs ?? 0) / 1000).toFixed(1)}s`
        : 'it stays down (--no-restart)';
      return `drctl up: ${event.name} (pid ${event.pid}) ${how}; ${next}`;
    }
    case 'restart-failed':
      return `drctl up: ${event.name} did not come back: ${event.reason}; trying again`;
    case 'restarted':
      return `drctl up: ${event.name} restarted, pid ${event.pid} (restart ${event.restarts})`;
  }
}

function stoppedLine(signal: NodeJS.Signals, status: ProcessStatus[]): Record<string, unknown> {
  return {
    stopped: true,
    signal,
    restarts: Object.fromEntries(status.map((p) => [p.name, p.restarts])),
  };
}

/** The port the CLI's DR_SERVER default names (engine/client DEFAULT_SERVER). */
const DEFAULT_API_PORT = 7080;

/** True when nothing listens on 127.0.0.1:`port` yet. */
async function portIsFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
