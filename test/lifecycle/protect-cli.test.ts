/**
 * `drctl protect` as an admin types it (real processes) right after setting up a plan: the rows it
 * printed when it called the hosts itself (vm, site, before, after, changed, error), now from an
 * execution it submits and follows; exit 0 all set, 1 a VM failed (named, with the host's answer),
 * 2 bad input or a VM another execution owns; --detach, and `drctl events` showing each VM's
 * automatic start action before and after.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLocks } from '../../engine/locks/index.ts';
import { type SimServer, startSimServer, worldForPlan } from '../../simulators/index.ts';
import { tracked } from '../support/children.ts';
import { useTempDirs } from '../support/temp.ts';
import { type LifecycleEngine, smallPlan, smallPlanText, startLifecycleEngine } from './support.ts';

const NAME = 'pcli';
const { plan } = smallPlan(NAME);
const VMS = plan.vms.map((v) => v.name);
const temp = useTempDirs();

let engine: LifecycleEngine | undefined;
let sim: SimServer | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  await engine?.close();
  engine = undefined;
});

async function start(): Promise<{ live: LifecycleEngine; file: string }> {
  const world = worldForPlan(plan, {
    vmSlotsPerHost: 1,
    clock: { mode: 'scaled', speed: 2000 },
    warmupMs: 3_600_000,
  });
  engine = await startLifecycleEngine(plan, { world });
  sim = await startSimServer(engine.world.api);
  const file = join(temp('drorch-protect-'), `${NAME}.yaml`);
  writeFileSync(file, smallPlanText(NAME));
  return { live: engine, file };
}

async function drctl(
  live: LifecycleEngine,
  args: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const { DR_SIM_URL: _inherited, ...rest } = process.env;
  const env = { ...rest, REDIS_URL: live.redisUrl, LOG_LEVEL: 'silent', DR_SIM_URL: sim?.url ?? '' };
  const child = tracked(
    spawn(process.execPath, ['bin/drctl.js', ...args, '--prefix', live.prefix], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}

describe('drctl protect', { timeout: 120_000 }, () => {
  it('prints one row per VM and exits 0; a VM whose host is down exits 1 with the host answer', async () => {
    const { live, file } = await start();
    const set = await drctl(live, ['protect', file, '--automatic-start-action', 'Nothing', '--json']);
    expect(set.code, set.err).toBe(0);
    const answer = JSON.parse(set.out) as { ok: boolean; execution: string; vms: unknown[] };
    expect(answer).toMatchObject({
      ok: true,
      action: 'Nothing',
      status: 'completed',
      vms: VMS.map((vm) => ({
        vm,
        site: plan.source,
        before: 'StartIfRunning',
        after: 'Nothing',
        changed: true,
      })),
    });
    // Its log is the audit: who asked, each VM's action before and after.
    const events = await drctl(live, ['events', answer.execution]);
    expect(events.code, events.err).toBe(0);
    expect(events.out).toContain(`submitted protect of plan ${NAME}`);
    for (const vm of VMS)
      expect(events.out).toContain(
        `step ${vm}/protect done @${plan.source} (automatic start action StartIfRunning → Nothing)`,
      );

    const down = VMS[2] ?? '';
    const host = (await live.world.api.getVM(plan.source, down)).host;
    live.world.fault({ kind: 'host-crash', site: plan.source, host });
    const partly = await drctl(live, ['protect', file, '--automatic-start-action', 'Start']);
    expect(partly.code, partly.err).toBe(1);
    expect(partly.out).toMatch(new RegExp(`! ${down} +@${plan.source} +FAILED: HOST_DOWN: .*${host}`));
    for (const vm of VMS.filter((v) => v !== down))
      expect(partly.out).toMatch(new RegExp(`${vm} +@${plan.source} +Nothing → Start`));
    expect(partly.out).toContain(`2 of 3 primaries have automatic start action Start (2 changed); 1 FAILED`);
  });

  it('exits 2 for a VM not in the plan, and for a VM another execution owns (named)', async () => {
    const { live, file } = await start();
    const before = structuredClone(live.world.truth().mutations);
    const unknown = await drctl(live, [
      'protect',
      file,
      '--automatic-start-action',
      'Nothing',
      '--vms',
      'nosuch',
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain(`nosuch not in plan ${NAME}`);

    const owner = 'planned-20260101-000000-abcdef';
    await acquireLocks(live.redis, live.prefix, {
      execution: owner,
      plan: NAME,
      vms: [VMS[0] ?? ''],
      operation: 'planned',
    });
    const locked = await drctl(live, ['protect', file, '--automatic-start-action', 'Nothing']);
    expect(locked.code).toBe(2);
    expect(locked.err).toContain(`VM ${VMS[0]} is held by execution ${owner}`);
    expect(live.world.truth().mutations).toEqual(before);
  });

  it('--detach prints the execution id alone; the run goes on in the engine', async () => {
    const { live, file } = await start();
    const detached = await drctl(live, [
      'protect',
      file,
      '--automatic-start-action',
      'Nothing',
      '--vms',
      VMS[0] ?? '',
      '--detach',
      '--reason',
      'CHG-7 after plan setup',
    ]);
    expect(detached.code, detached.err).toBe(0);
    const id = detached.out.trim();
    expect(id).toMatch(/^protect-\d{8}-\d{6}-[0-9a-f]{6}$/);
    expect(detached.err).toContain(`drctl status ${id}`);
    const followed = await drctl(live, ['events', id, '--follow']);
    expect(followed.code, followed.err).toBe(0);
    expect(followed.out).toContain('CHG-7 after plan setup');
    expect(followed.out).toContain('finished: completed');
    const status = await drctl(live, ['status', id]);
    expect(status.code, status.err).toBe(0);
    expect(status.out).toContain('sets automatic start action Nothing on 1 primaries');
    expect(status.out).toMatch(new RegExp(`${VMS[0]} +protected +runs at ${plan.source}`));
    expect((await live.world.api.getVM(plan.source, VMS[0] ?? '')).automaticStartAction).toBe('Nothing');
    expect((await live.world.api.getVM(plan.source, VMS[1] ?? '')).automaticStartAction).toBe(
      'StartIfRunning',
    );
  });
});
