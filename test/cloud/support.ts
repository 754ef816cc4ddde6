/**
 * The cloud shape as a user runs it, for the issue-11 integration tests: one `drctl up` (private
 * Redis with AOF, the simulator, `drctl serve`, one `drctl agent` a site, all supervised) a test
 * file, driven by the CLI with DR_SERVER alone (DR_SIM_URL for `drctl sim`), and judged by the
 * simulator's ledger. Plans are tiny: each has a `<plan>-db` and a `<plan>-app` that depends on it,
 * so one world carries several twin plans and an uninterrupted run of one is the baseline of a
 * faulted run of another.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { expect } from 'vitest';
import type { ExecutionView } from '../../engine/client/index.ts';
import { freePort } from '../../engine/redis/index.ts';
import { createSimClient, type SimClient, type WorldTruth } from '../../simulators/index.ts';
import { type DrctlProcess, type DrctlRun, drctl, startDrctl } from '../cli/support.ts';
import { acceptedCalls } from '../engine/checks.ts';
import { tracked } from '../support/children.ts';

export interface UpLine {
  api: string;
  sim: string;
  redis: string;
  logs: string;
  /** The engine's Redis key prefix. */
  prefix: string;
  agents: Record<string, { pid: number }>;
  processes: Record<string, { pid: number; log: string }>;
  /** The control plane is HTTPS with the vault's certificate: DR_CA_FILE is the vault's ca.pem. */
  env: { DR_SERVER: string; DR_SIM_URL: string; DR_TOKEN: string; DR_CA_FILE: string };
}

/** One line of `drctl up --json` after its summary: an exit or a restart of a child. */
export interface UpEvent {
  event: 'exited' | 'restarted' | 'restart-failed';
  name: string;
  pid?: number;
  signal?: string | null;
  restarting?: boolean;
}

export const SOURCE = 'dc-east';
export const TARGET = 'dc-west';

/** The VMs of a twin plan, in dependency order. */
export const vmsOf = (plan: string): [string, string] => [`${plan}-db`, `${plan}-app`];

function planYaml(name: string, vms: string[], bootEstimate: string, fenceDeadline?: string): string {
  const lines = vms.map((vm) => {
    const role = vm.slice(vm.lastIndexOf('-') + 1);
    const db = vm.replace(/-app$/, '-db');
    return role === 'app'
      ? `    - { name: ${vm}, dependsOn: [${db}], bootEstimate: ${bootEstimate} }`
      : `    - { name: ${vm}, bootEstimate: ${bootEstimate} }`;
  });
  return `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: ${name} }
spec:
  source: ${SOURCE}
  target: ${TARGET}
  recoveryPoint: latest
${fenceDeadline === undefined ? '' : `  fencing: { deadline: ${fenceDeadline} }\n`}  vms:
${lines.join('\n')}
`;
}

export interface CloudOptions {
  /** The twin plans of the world (each `<name>-db`, `<name>-app`). */
  plans: string[];
  /** drctl up's --no-restart when false. @defaultValue true */
  restart?: boolean;
  /** Simulated seconds per real second. @defaultValue 50 */
  speed?: number;
  /** Every VM's boot estimate (boots take 0.5–1 × it). @defaultValue '20s' */
  bootEstimate?: string;
  /**
   * How long an unplanned failover waits for the source to confirm its fence before it goes on
   * without (a lost site never answers). @defaultValue the plan default (60 s)
   */
  fenceDeadline?: string;
}

export interface Cloud {
  dir: string;
  line: UpLine;
  up: DrctlProcess;
  planFile(plan: string): string;
  /** drctl with the environment up's line gives (DR_SERVER, DR_SIM_URL), `server` instead of DR_SERVER. */
  cli(args: string[], server?: string): Promise<DrctlRun>;
  /** drctl … --json that must exit 0; its output parsed. */
  cliJson<T>(args: string[], server?: string): Promise<T>;
  /** `drctl sim truth`: the ledger, as the CLI prints it. */
  truth(): Promise<WorldTruth>;
  /** The simulator over HTTP, for canaries and for finding the moment to strike. */
  sim: SimClient;
  /** GET on the control plane's API. */
  get<T>(path: string): Promise<T>;
  /** Polls the execution through the API until it reaches one of `statuses`. */
  waitForStatus(id: string, statuses: string[], timeoutMs?: number): Promise<ExecutionView>;
  /** up's event lines so far. */
  events(): UpEvent[];
  waitForEvent(check: (event: UpEvent) => boolean): Promise<UpEvent>;
  /** The pid the child `name` runs as now (its latest restart's). */
  pidOf(name: string): number;
  close(): Promise<void>;
}

function jsonLines(out: string): Array<Record<string, unknown>> {
  return out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `drctl up --for-plan <all plans' VMs> --json` in a temp folder `dir`; resolves once its line is out. */
export async function startCloud(dir: string, options: CloudOptions): Promise<Cloud> {
  const boot = options.bootEstimate ?? '20s';
  const files = new Map<string, string>();
  for (const plan of options.plans) {
    const file = join(dir, `${plan}.yaml`);
    writeFileSync(file, planYaml(plan, vmsOf(plan), boot, options.fenceDeadline));
    files.set(plan, file);
  }
  const world = join(dir, 'world-plan.yaml');
  writeFileSync(world, planYaml('world', options.plans.flatMap(vmsOf), boot, options.fenceDeadline));
  const up = startDrctl(
    [
      'up',
      '--for-plan',
      world,
      '--clock',
      'scaled',
      '--speed',
      String(options.speed ?? 50),
      '--logs',
      join(dir, 'logs'),
      '--grace',
      '5s',
      '--json',
      '--api-port',
      String(await freePort()),
      ...(options.restart === false ? ['--no-restart'] : []),
    ],
    // Its own state folder: up writes its admin token there, not in the user's.
    { env: { LOG_LEVEL: 'info', XDG_STATE_HOME: join(dir, 'state') } },
  );
  await up.waitFor(/"agents"/);
  const line = jsonLines(up.stdout()).find((l) => 'agents' in l) as unknown as UpLine;
  const sim = createSimClient(line.sim);
  const events = (): UpEvent[] => jsonLines(up.stdout()).filter((l) => 'event' in l) as unknown as UpEvent[];
  const cli = (args: string[], server?: string) =>
    drctl(args, { env: { ...line.env, ...(server === undefined ? {} : { DR_SERVER: server }) } });
  // The API's certificate is checked against the vault's CA, as the CLI does.
  const trusted = new Agent({ connect: { ca: readFileSync(line.env.DR_CA_FILE, 'utf8') } });
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${line.api}${path}`, {
      headers: { authorization: `Bearer ${line.env.DR_TOKEN ?? ''}` },
      dispatcher: trusted,
    } as RequestInit);
    if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  return {
    dir,
    line,
    up,
    sim,
    planFile: (plan) => {
      const file = files.get(plan);
      if (file === undefined) throw new Error(`no plan ${plan} in this cloud`);
      return file;
    },
    cli,
    cliJson: async <T>(args: string[], server?: string): Promise<T> => {
      const run = await cli([...args, '--json'], server);
      expect(run.stderr, `drctl ${args.join(' ')}`).not.toMatch(/\n\s+at /);
      expect(run.code, `drctl ${args.join(' ')}:\n${run.stdout}\n${run.stderr}`).toBe(0);
      return JSON.parse(run.stdout) as T;
    },
    truth: async () => {
      const run = await cli(['sim', 'truth']);
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as WorldTruth;
    },
    get,
    waitForStatus: async (id, statuses, timeoutMs = 90_000) =>
      await until(
        `execution ${id} to be ${statuses.join(' or ')}`,
        async () => {
          const view = await get<ExecutionView>(`/api/v1/executions/${id}`).catch(() => undefined);
          return view !== undefined && statuses.includes(view.status) ? view : undefined;
        },
        timeoutMs,
      ),
    events,
    waitForEvent: async (check) => await until('an event of drctl up', async () => events().find(check)),
    pidOf: (name) => {
      const restarted = events().filter((e) => e.name === name && e.event === 'restarted');
      const pid = restarted.at(-1)?.pid ?? line.processes[name]?.pid;
      if (pid === undefined) throw new Error(`drctl up runs no ${name}`);
      return pid;
    },
    close: async () => {
      sim.close();
      await trusted.close();
      up.child.kill('SIGTERM');
      await up.done;
    },
  };
}

/** drctl up's agents' state folder: each site's key (0600) and certificate. */
export function agentDirOf(cloud: Cloud): string {
  return join(cloud.line.logs, 'agents');
}

/** A `drctl agent` the test runs itself (up's own agent for the site stopped first), logging to `log`. */
export interface OwnAgent {
  pid: number;
  ready: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startOwnAgent(cloud: Cloud, site: string, server: string, log: string): OwnAgent {
  const fd = openSync(log, 'a');
  const child = tracked(
    spawn(
      process.execPath,
      [
        'bin/drctl.js',
        'agent',
        '--site',
        site,
        '--hosts',
        cloud.line.sim,
        '--server',
        server,
        '--shutdown-timeout-ms',
        '2000',
        // It takes over from up's agent, whose session may still be live (up to 5 s after it went).
        '--replace',
        // The key and certificate drctl up registered for the site (it renews them there).
        '--state-dir',
        agentDirOf(cloud),
        '--json',
      ],
      {
        // No REDIS_URL, no DR_SERVER: the agent knows the control plane by --server alone.
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      writeSync(fd, chunk);
      out += chunk.toString();
      if (out.includes('"ready":true')) resolve();
    });
    void exited.then(() => reject(new Error(`drctl agent --site ${site} ended:\n${out}`)));
  });
  ready.catch(() => {});
  child.stderr.on('data', (chunk: Buffer) => writeSync(fd, chunk));
  void exited.then(() => closeSync(fd));
  return {
    pid: child.pid ?? -1,
    ready,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/**
 * A twin plan's accepted mutating calls by role (`db`, `app`) and site, every call minus the
 * refused ones (test/engine/checks.ts), to compare with another plan's.
 */
export function callsOfPlan(truth: WorldTruth, plan: string): Record<string, Record<string, number>> {
  const accepted = acceptedCalls(truth);
  return Object.fromEntries(vmsOf(plan).map((vm) => [vm.slice(plan.length + 1), accepted[vm] ?? {}]));
}

/** Every mutating call of the plan's VMs by operation, accepted or refused (for messages). */
export function opsOfPlan(truth: WorldTruth, plan: string): Record<string, unknown> {
  return Object.fromEntries(
    vmsOf(plan).map((vm) => [vm, { calls: truth.mutations[vm] ?? {}, refused: truth.refused[vm] ?? {} }]),
  );
}

/**
 * The split-brain promise for a failed-over plan: no split-brain anywhere, each VM primary at the
 * target alone, failed over exactly once of `kind`.
 */
export function expectFailedOverOnce(truth: WorldTruth, plan: string, kind: 'planned' | 'unplanned'): void {
  expect(truth.splitBrain).toEqual([]);
  for (const vm of vmsOf(plan)) {
    expect(truth.vms[vm]?.primarySites, vm).toEqual([TARGET]);
    const failovers = truth.failovers.filter((f) => f.vm === vm && f.kind !== 'test' && !f.cancelledAt);
    expect(
      failovers.map((f) => `${f.kind} ${f.fromSite}→${f.toSite}`),
      vm,
    ).toEqual([`${kind} ${SOURCE}→${TARGET}`]);
  }
}
