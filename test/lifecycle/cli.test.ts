/**
 * The lifecycle commands as an admin types them (`drctl commit | change-point | cancel | status`,
 * real processes) against an engine on the test Redis: refusals exit 2 with what to do, --json
 * output, and what status says about the point of no return.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { submitReprotect } from '../../engine/executor/index.ts';
import { type SimServer, startSimServer } from '../../simulators/index.ts';
import { waitForStatus } from '../engine/support.ts';
import { tracked } from '../support/children.ts';
import { useTempDirs } from '../support/temp.ts';
import {
  failOverFromLostSource,
  type LifecycleEngine,
  settled,
  smallPlan,
  smallPlanText,
  startLifecycleEngine,
  vmAt,
} from './support.ts';

/** The engine's world over HTTP, for the commands' pre-flight (DR_SIM_URL). */
let sim: SimServer | undefined;

async function drctl(
  engine: LifecycleEngine,
  args: string[],
  options: { noSim?: boolean } = {},
): Promise<{ code: number | null; out: string; err: string }> {
  sim ??= await startSimServer(engine.world.api);
  const { DR_SIM_URL: _inherited, ...rest } = process.env;
  const env = {
    ...rest,
    REDIS_URL: engine.redisUrl,
    LOG_LEVEL: 'silent',
    ...(options.noSim ? {} : { DR_SIM_URL: sim.url }),
  };
  const child = tracked(
    spawn(process.execPath, ['bin/drctl.js', ...args, '--prefix', engine.prefix], {
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

const temp = useTempDirs();
let engine: LifecycleEngine | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  await engine?.close();
  engine = undefined;
});

describe('drctl commit / cancel / change-point / status / reprotect', { timeout: 120_000 }, () => {
  it('commits a failed failover only with --partial, then refuses cancel with the way back', async () => {
    const { plan, hash } = smallPlan('k1');
    engine = await startLifecycleEngine(plan);
    engine.world.fault({ kind: 'boot', vm: 'k1-app2', site: plan.target, mode: 'fail' });
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'cli' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('failed');

    const refused = await drctl(engine, ['commit', id]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('k1-app2');
    expect(refused.err).toContain('--partial');

    const partial = await drctl(engine, ['commit', id, '--partial', '--json']);
    expect(partial.code).toBe(0);
    const result = JSON.parse(partial.out.trim().split('\n').at(-1) ?? '{}') as {
      status: string;
      lifecycle: { vms: string[]; partial: boolean; skipped: { vm: string }[] };
    };
    expect(result.status).toBe('completed');
    expect(result.lifecycle.vms).toEqual(['k1-db', 'k1-app1']);
    expect(result.lifecycle.skipped.map((s) => s.vm)).toEqual(['k1-app2']);
    expect((await vmAt(engine, plan.target, 'k1-db')).replication?.state).toBe('FailedOver');

    const after = await drctl(engine, ['status', id, '--json']);
    const status = JSON.parse(after.out) as {
      status: string;
      lifecycle: { pointOfNoReturn: { passed: boolean } };
    };
    expect(status.status).toBe('committed');
    expect(status.lifecycle.pointOfNoReturn.passed).toBe(true);

    const cancel = await drctl(engine, ['cancel', id]);
    expect(cancel.code).toBe(2);
    expect(cancel.err).toContain('point of no return');
    expect(cancel.err).toContain('drctl failback');

    // Reprotect by plan file: the committed VMs only, resync reported, followed until Normal.
    const file = join(temp('drorch-lc-'), 'k1.yaml');
    writeFileSync(
      file,
      'apiVersion: dr/v1\nkind: RecoveryPlan\nmetadata: { name: k1 }\nspec:\n  source: dc-east\n  target: dc-west\n  vms:\n    - { name: k1-db }\n',
    );
    const reprotect = await drctl(engine, ['reprotect', file]);
    expect(reprotect.code).toBe(0);
    expect(reprotect.out).toContain('2 VM(s) reversed: 0.0 MiB to resynchronize');
    expect(reprotect.out).toContain('replication health Normal for 2/2 VMs');
    expect(reprotect.out).toContain('left out k1-app2');
    expect((await vmAt(engine, plan.target, 'k1-db')).replication?.mode).toBe('Primary');
  });

  it('fails back by plan file: refused before reprotect, then planned failover home and reprotect', async () => {
    const { plan, hash } = smallPlan('k3');
    engine = await startLifecycleEngine(plan);
    const server = await startSimServer(engine.world.api);
    try {
      const file = join(temp('drorch-lc-'), 'k3.yaml');
      writeFileSync(file, smallPlanText('k3'));
      const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'cli' });
      await waitForStatus(engine.client, id, ['completed']);
      const early = await drctl(engine, ['failback', file, '--sim', server.url]);
      expect(early.code).toBe(2);
      expect(early.err).toContain('drctl reprotect');
      await settled(engine, await submitReprotect(engine.redis, engine.prefix, id, engine.who));

      const back = await drctl(engine, ['failback', file, '--sim', server.url]);
      expect(back.err).toBe('');
      expect(back.code).toBe(0);
      expect(back.out).toContain("data loss (the engine's claim, host time): widest window 0.0s");
      expect(back.out).toContain('replication health Normal for 3/3 VMs');
      const truth = engine.world.truth();
      expect(truth.splitBrain).toEqual([]);
      for (const vm of plan.vms) {
        expect(truth.vms[vm.name]?.primarySites).toEqual([plan.source]);
        const view = await vmAt(engine, plan.source, vm.name);
        expect(view.replication?.mode).toBe('Primary');
        expect(view.replication?.health).toBe('Normal');
      }
    } finally {
      await server.close();
    }
  });

  it('cancels a failover; reprotect by plan file then finds nothing to reprotect; bad input exits 2', async () => {
    const { plan, hash } = smallPlan('k2');
    engine = await startLifecycleEngine(plan);
    const { id } = await engine.client.submit({ type: 'planned', plan, hash, reason: 'cli' });
    await waitForStatus(engine.client, id, ['completed']);
    const cancel = await drctl(engine, ['cancel', id, '--reason', 'wrong window']);
    expect(cancel.code).toBe(0);
    expect(cancel.out).toContain(`failover ${id} is now cancelled`);
    for (const vm of plan.vms) expect(engine.world.truth().vms[vm.name]?.primarySites).toEqual([plan.source]);

    const dir = temp('drorch-lc-');
    const file = join(dir, 'k2.yaml');
    writeFileSync(
      file,
      `apiVersion: dr/v1\nkind: RecoveryPlan\nmetadata: { name: k2 }\nspec:\n  source: dc-east\n  target: dc-west\n  vms:\n    - { name: k2-db }\n`,
    );
    const reprotect = await drctl(engine, ['reprotect', file]);
    expect(reprotect.code).toBe(2);
    expect(reprotect.err).toContain('has no failover to reprotect');
    const badPoint = await drctl(engine, ['change-point', id, '--recovery-point', 'yesterday-ish']);
    expect(badPoint.code).toBe(2);
  });

  it('a lifecycle pre-flight that blocks: one located line per VM, exit 1, --json report; --dry-run changes nothing', async () => {
    const { plan, hash } = smallPlan('k4');
    engine = await startLifecycleEngine(plan);
    const id = await failOverFromLostSource(engine, plan, hash);

    const cancel = await drctl(engine, ['cancel', id]);
    expect(cancel.code).toBe(1);
    for (const vm of plan.vms)
      expect(cancel.out).toContain(`k4: blocker ONLY_RUNNING_COPY: ${vm.name} runs at dc-west`);
    expect(cancel.out).toContain('[spec.vms[2]]');
    expect(cancel.out).toContain('nothing was changed');
    const json = await drctl(engine, ['cancel', id, '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.out) as { ok: boolean; code: string; preflight: { blockers: unknown[] } };
    expect(report).toMatchObject({ ok: false, code: 'PREFLIGHT_BLOCKED' });
    expect(report.preflight.blockers).toHaveLength(3);

    // By plan file: the finding is located in the file (the old primary site is down: no reprotect).
    const file = join(temp('drorch-lc-'), 'k4.yaml');
    writeFileSync(file, smallPlanText('k4'));
    const reprotect = await drctl(engine, ['reprotect', file]);
    expect(reprotect.code).toBe(1);
    expect(reprotect.out).toMatch(new RegExp(`${file}:5:\\d+: blocker SOURCE_UNREACHABLE: site dc-east`));

    // Without the sites to read, nothing is tried: bad input.
    const noSim = await drctl(engine, ['commit', id], { noSim: true });
    expect(noSim.code).toBe(2);
    expect(noSim.err).toContain('--sim');

    const dry = await drctl(engine, ['commit', id, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('pre-flight of commit');
    expect(dry.out).toContain('ok: no blocker');
    expect((await engine.client.get(id)).status).toBe('completed');
    for (const vm of plan.vms) {
      expect(engine.world.truth().vms[vm.name]?.primarySites).toEqual([plan.target]);
      expect((await vmAt(engine, plan.target, vm.name)).replication?.state).toBe(
        'FailedOverWaitingCompletion',
      );
    }
  });
});
