/**
 * `drctl protect` through the control plane: POST /api/v1/protections places each primary from the
 * vault's inventory and the site's workers (the agents' relays) set the action; the CLI over
 * --server needs neither REDIS_URL nor --sim and prints what the direct path prints.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForStatus } from '../engine/support.ts';
import { smallPlan, smallPlanText } from '../lifecycle/support.ts';
import { tracked } from '../support/children.ts';
import { useTempDirs } from '../support/temp.ts';
import { type LifecycleControl, startLifecycleControl } from './lifecycle-support.ts';

const viaApi = smallPlan('pa');
const viaCli = smallPlan('pc');
const temp = useTempDirs();
let live: LifecycleControl;

beforeAll(async () => {
  live = await startLifecycleControl([viaApi.plan, viaCli.plan]);
});
afterAll(async () => {
  await live?.close();
});

describe('drctl protect through the control plane', { timeout: 120_000 }, () => {
  it('runs a protect execution from the vault and answers its rows', async () => {
    const submitted = await live.api('POST', '/protections', {
      file: 'pa.yaml',
      text: smallPlanText('pa'),
      action: 'Nothing',
      by: 'test',
      reason: 'protect through the API',
    });
    expect(submitted.status).toBe(200);
    expect(submitted.body.placement.map((p: { site: string }) => p.site)).toEqual([
      'dc-east',
      'dc-east',
      'dc-east',
    ]);
    const view = await waitForStatus(live.engine.client, submitted.body.id, ['completed', 'failed']);
    expect(view.status).toBe('completed');
    const rows = await live.api('GET', `/executions/${submitted.body.id}/protect`);
    expect(rows.body.vms).toHaveLength(3);
    for (const row of rows.body.vms) expect(row).toMatchObject({ site: 'dc-east', after: 'Nothing' });
    for (const vm of viaApi.plan.vms) {
      expect((await live.engine.world.api.getVM('dc-east', vm.name)).automaticStartAction).toBe('Nothing');
    }
  });

  it('refuses a VM not in the plan (UNKNOWN_VM, the code the CLI prints) and a bad plan with its location', async () => {
    const unknown = await live.api('POST', '/protections', {
      file: 'pa.yaml',
      text: smallPlanText('pa'),
      action: 'Nothing',
      vms: ['nope'],
      by: 'test',
      reason: 'x',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'UNKNOWN_VM' });
    const bad = await live.api('POST', '/protections', {
      file: 'bad.yaml',
      text: 'apiVersion: dr/v1\nkind: RecoveryPlan\n',
      action: 'Nothing',
      by: 'test',
      reason: 'x',
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'PLAN_INVALID' });
    expect(bad.body.detail).toMatch(/bad\.yaml:\d+:\d+/);
  });

  it('drctl protect --server --json sets the action with neither REDIS_URL nor --sim', async () => {
    const file = join(temp('protect'), 'pc.yaml');
    writeFileSync(file, smallPlanText('pc'));
    const { REDIS_URL: _r, DR_SIM_URL: _s, DR_SERVER: _d, ...rest } = process.env;
    const child = tracked(
      spawn(
        process.execPath,
        [
          'bin/drctl.js',
          'protect',
          file,
          '--automatic-start-action',
          'Nothing',
          '--server',
          live.control.url,
          '--json',
        ],
        { env: { ...rest, LOG_LEVEL: 'silent', DR_TOKEN: live.token }, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(err).not.toMatch(/\n\s+at /);
    expect(code).toBe(0);
    const answer = JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
    expect(answer).toMatchObject({ ok: true, status: 'completed', action: 'Nothing' });
    expect(answer.vms).toHaveLength(3);
  });
});
