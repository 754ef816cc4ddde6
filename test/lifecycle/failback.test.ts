/**
 * A failback is one engine operation (issue 10): the planned failover home, then the reprotect
 * that reverses replication to the original direction, both driven by the engine. Neither the
 * CLI that asked for it nor the orchestrator that ran it may leave it "completed" with its
 * replication not reversed by dying; `--detach` works for every operation.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { submitReprotect } from '../../engine/executor/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { startSimServer } from '../../simulators/index.ts';
import { spawnOrchestrator } from '../engine/processes.ts';
import { waitForStatus } from '../engine/support.ts';
import { tracked } from '../support/children.ts';
import {
  type LifecycleEngine,
  settled,
  smallPlan,
  smallPlanText,
  startLifecycleEngine,
  vmAt,
  who,
} from './support.ts';

interface Cli {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function drctl(engine: LifecycleEngine, args: string[]): Cli {
  const child = tracked(
    spawn(process.execPath, ['bin/drctl.js', ...args, '--prefix', engine.prefix], {
      env: { ...process.env, REDIS_URL: engine.redisUrl, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, out: () => out, err: () => err, done };
}

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let engine: LifecycleEngine | undefined;
let dir: string | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** The plan failed over (planned) and reprotected: a failback may follow. Returns the plan file. */
async function awayAndReprotected(name: string, plan: RecoveryPlan, hash: string): Promise<string> {
  if (!engine) throw new Error('no engine');
  const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'away' });
  await waitForStatus(engine.client, id, ['completed']);
  await settled(
    engine,
    await submitReprotect(engine.redis, engine.prefix, id, { ...who, hosts: engine.world.api }),
  );
  expect((await engine.client.get(id)).status).toBe('reprotected');
  dir = await mkdtemp(join(tmpdir(), 'drorch-fb-'));
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, smallPlanText(name));
  return file;
}

/** Every VM runs at the plan's source, replicating to its target again, healthy; never in two places. */
async function expectHomeAndReprotected(plan: RecoveryPlan): Promise<void> {
  if (!engine) throw new Error('no engine');
  const truth = engine.world.truth();
  expect(truth.splitBrain).toEqual([]);
  for (const vm of plan.vms) {
    expect(truth.vms[vm.name]?.primarySites).toEqual([plan.source]);
    const view = await vmAt(engine, plan.source, vm.name);
    expect(view.state).toBe('Running');
    expect(view.replication?.mode).toBe('Primary');
  }
}

describe('a failback is one engine operation', { timeout: 180_000 }, () => {
  it('when the `drctl failback` process is SIGKILLed right after submit, the failback still ends reprotected', async () => {
    const { plan, hash } = smallPlan('fb1');
    engine = await startLifecycleEngine(plan);
    const server = await startSimServer(engine.world.api);
    try {
      const file = await awayAndReprotected('fb1', plan, hash);
      const cli = drctl(engine, ['failback', file, '--sim', server.url]);
      await until(() => /failback (\S+) \(planned/.test(cli.out()), 'the failback to be submitted');
      cli.child.kill('SIGKILL');
      expect((await cli.done).signal).toBe('SIGKILL');
      const id = /failback (\S+) \(planned/.exec(cli.out())?.[1] ?? '';

      const view = await waitForStatus(
        engine.client,
        id,
        ['reprotected', 'reprotect-failed', 'failed'],
        90_000,
      );
      expect(view.status).toBe('reprotected');
      expect(view.phase).toMatchObject({ step: 2, name: 'reprotect', state: 'done' });
      const reprotect = await engine.client.get(view.phase?.reprotect ?? '');
      expect([reprotect.type, reprotect.parent, reprotect.status]).toEqual(['reprotect', id, 'completed']);
      await expectHomeAndReprotected(plan);
    } finally {
      await server.close();
    }
  });

  it('reads "reprotecting", never "completed", between its failover back and its reprotect, and status names the phase', async () => {
    const { plan, hash } = smallPlan('fb2');
    engine = await startLifecycleEngine(plan);
    const server = await startSimServer(engine.world.api);
    try {
      const file = await awayAndReprotected('fb2', plan, hash);
      const { id } = await engine.client.submit({
        type: 'planned',
        direction: 'failback',
        plan,
        hash,
        reason: 'home',
        thenReprotect: true,
      });
      const seen = new Set<string>();
      await until(
        async () => {
          const view = await engine!.client.get(id);
          seen.add(view.status);
          return view.status === 'reprotected' || view.status === 'reprotect-failed';
        },
        'the failback to settle',
        90_000,
      );
      expect(seen.has('completed')).toBe(false);
      const events = [];
      for await (const stored of engine.client.events(id)) events.push(stored.event);
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'execution-status', status: 'reprotecting' }),
      );
      const status = drctl(engine, ['status', id]);
      expect((await status.done).code).toBe(0);
      expect(status.out()).toContain(`failback phase 2/2 reprotect (${id}-reprotect-1): done`);
      await expectHomeAndReprotected(plan);
      // The next failback is refused the usual way: it already failed back.
      const again = drctl(engine, ['failback', file, '--sim', server.url]);
      expect((await again.done).code).toBe(2);
      expect(again.err()).toContain('already failed back');
    } finally {
      await server.close();
    }
  });

  it('when the orchestrator dies after recording the failback end, the next one submits the reprotect', async () => {
    const { plan, hash } = smallPlan('fb3');
    engine = await startLifecycleEngine(plan);
    await awayAndReprotected('fb3', plan, hash);
    await engine.orchestrator?.close(5000);
    engine.orchestrator = undefined;
    const { id } = await engine.client.submit({
      type: 'planned',
      direction: 'failback',
      plan,
      hash,
      reason: 'home',
      thenReprotect: true,
    });
    const doomed = spawnOrchestrator(engine.redisUrl, engine.prefix, {
      DR_CRASH_AT: 'after-finish-before-follow-up',
    });
    const exit = await doomed.exited;
    expect(exit.signal, doomed.output()).toBe('SIGKILL');
    const between = await engine.client.get(id);
    expect(between.status).toBe('reprotecting');
    expect(between.phase).toMatchObject({ step: 2, reprotect: `${id}-reprotect-1`, state: 'running' });
    // Recorded, not stored: only the engine can finish it now.
    expect(await engine.redis.exists(`${engine.prefix}:{exec:${id}-reprotect-1}:meta`)).toBe(0);

    await engine.startOrchestrator();
    const view = await waitForStatus(engine.client, id, ['reprotected', 'reprotect-failed'], 90_000);
    expect(view.status).toBe('reprotected');
    await expectHomeAndReprotected(plan);
  });
});

describe('--detach', { timeout: 240_000 }, () => {
  /** Run a command with --detach while no orchestrator runs: it must return with the id. */
  async function detached(args: string[]): Promise<string> {
    if (!engine) throw new Error('no engine');
    const cli = drctl(engine, [...args, '--detach']);
    const { code } = await cli.done;
    expect(code, `${args.join(' ')}: ${cli.err()}`).toBe(0);
    // The id is the last line (a drill or failover prints its pre-flight summary first).
    const id = cli.out().trim().split('\n').at(-1) ?? '';
    expect(id).toMatch(/^\S+$/);
    expect(cli.err()).toContain(`drctl status ${id}`);
    return id;
  }

  /** Let an orchestrator drive `id` to one of `statuses`, then stop it again. */
  async function drive(id: string, statuses: string[]): Promise<void> {
    if (!engine) throw new Error('no engine');
    await engine.startOrchestrator();
    await waitForStatus(engine.client, id, statuses, 90_000);
    await engine.orchestrator?.close(5000);
    engine.orchestrator = undefined;
  }

  it('returns at once with the execution id on every operation, and the engine runs it', async () => {
    const { plan } = smallPlan('fd');
    engine = await startLifecycleEngine(plan, { orchestrator: false });
    const server = await startSimServer(engine.world.api);
    try {
      dir = await mkdtemp(join(tmpdir(), 'drorch-fd-'));
      const file = join(dir, 'fd.yaml');
      await writeFile(file, smallPlanText('fd'));
      const sim = ['--sim', server.url];

      const drill = await detached(['drill', file, ...sim]);
      expect((await engine.client.get(drill)).status).toBe('submitted');
      await drive(drill, ['awaiting-cleanup']);
      const cleanup = await detached(['cleanup', drill]);
      await drive(cleanup, ['completed']);

      const first = await detached(['failover', file, '--planned', ...sim]);
      await drive(first, ['completed']);
      const change = await detached(['change-point', first, '--recovery-point', 'latest', ...sim]);
      expect((await engine.client.get(change)).type).toBe('change-point');
      await drive(change, ['completed']);
      const cancel = await detached(['cancel', first, ...sim]);
      await drive(cancel, ['completed']);

      const second = await detached(['failover', file, '--planned', ...sim]);
      await drive(second, ['completed']);
      const commit = await detached(['commit', second, ...sim]);
      await drive(commit, ['completed']);
      const reprotect = await detached(['reprotect', file, ...sim]);
      await drive(reprotect, ['completed']);
      const failback = await detached(['failback', file, ...sim]);
      expect((await engine.client.get(failback)).status).toBe('submitted');
      await drive(failback, ['reprotected']);
      await expectHomeAndReprotected(plan);
    } finally {
      await server.close();
    }
  });
});
