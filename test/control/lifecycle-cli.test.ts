/**
 * The lifecycle commands through the control plane (`--server`, no REDIS_URL, no --sim) answer as
 * they do with the engine in process: the same --json, exit codes and refusals. Real processes
 * against a control plane in this test's process, over one engine and world.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimServer, startSimServer } from '../../simulators/index.ts';
import { waitForStatus } from '../engine/support.ts';
import { failOverFromLostSource, smallPlan, smallPlanText } from '../lifecycle/support.ts';
import { tracked } from '../support/children.ts';
import { useTempDirs } from '../support/temp.ts';
import { type LifecycleControl, startLifecycleControl } from './lifecycle-support.ts';

const viaServer = smallPlan('cs');
const direct = smallPlan('cd');
/** Failed over from a lost source in the last test: its lifecycle pre-flight blocks. */
const lost = smallPlan('cl');
const temp = useTempDirs();
let live: LifecycleControl;
let sim: SimServer;

beforeAll(async () => {
  live = await startLifecycleControl([viaServer.plan, direct.plan, lost.plan]);
  sim = await startSimServer(live.engine.world.api);
});
afterAll(async () => {
  await sim?.close();
  await live?.close();
});

/** drctl through the control plane (neither REDIS_URL nor a sim), or in process on the engine. */
async function drctl(
  path: 'server' | 'direct',
  args: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const { REDIS_URL: _redis, DR_SIM_URL: _sim, DR_SERVER: _server, ...rest } = process.env;
  const env =
    path === 'server'
      ? { ...rest, LOG_LEVEL: 'silent', DR_SERVER: live.control.url, DR_TOKEN: live.token }
      : { ...rest, LOG_LEVEL: 'silent', REDIS_URL: live.engine.redisUrl, DR_SIM_URL: sim.url };
  const argv = path === 'server' ? args : [...args, '--prefix', live.engine.prefix];
  const child = tracked(
    spawn(process.execPath, ['bin/drctl.js', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] }),
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

async function failedOver(plan: typeof viaServer): Promise<string> {
  const { id } = await live.engine.client.submit({ type: 'planned', ...plan, reason: 'cli test' });
  expect((await waitForStatus(live.engine.client, id, ['completed', 'failed'])).status).toBe('completed');
  return id;
}

const lastJson = (out: string): Record<string, unknown> =>
  JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;

describe('drctl lifecycle commands through the control plane', { timeout: 180_000 }, () => {
  it('commit --json prints what the direct path prints; the refused cancel exits and says the same', async () => {
    const [one, two] = await Promise.all([failedOver(viaServer), failedOver(direct)]);
    const [served, local] = await Promise.all([
      drctl('server', ['commit', one, '--json']),
      drctl('direct', ['commit', two, '--json']),
    ]);
    expect(served.code).toBe(0);
    expect(local.code).toBe(0);
    const a = lastJson(served.out);
    const b = lastJson(local.out);
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    expect(a).toMatchObject({ id: `${one}-commit-1`, type: 'commit', status: 'completed', parent: one });
    expect(b).toMatchObject({ id: `${two}-commit-1`, type: 'commit', status: 'completed', parent: two });
    expect(a.lifecycle).toEqual({ parent: one, vms: viaServer.plan.vms.map((v) => v.name), skipped: [] });
    expect(b.lifecycle).toEqual({ parent: two, vms: direct.plan.vms.map((v) => v.name), skipped: [] });

    const [refusedServed, refusedLocal] = await Promise.all([
      drctl('server', ['cancel', one, '--json']),
      drctl('direct', ['cancel', two, '--json']),
    ]);
    expect(refusedLocal.code).toBe(2);
    expect(refusedServed.code).toBe(refusedLocal.code);
    expect(refusedLocal.err).toContain('point of no return');
    expect(refusedServed.err.replaceAll(one, '<id>')).toBe(refusedLocal.err.replaceAll(two, '<id>'));

    // What is locked and failed over is the same store, read either way.
    const [locksServed, locksLocal] = await Promise.all([
      drctl('server', ['locks', 'show', '--json']),
      drctl('direct', ['locks', 'show', '--json']),
    ]);
    expect(locksServed.code).toBe(0);
    expect(JSON.parse(locksServed.out)).toEqual(JSON.parse(locksLocal.out));
    expect(Object.keys(JSON.parse(locksServed.out).failedOver)).toContain('cs-db');
  });

  it('reprotect by plan file follows the run over HTTP to its resync; refusals are located in the file', async () => {
    const file = join(temp('drorch-cs-'), 'cs.yaml');
    writeFileSync(file, smallPlanText('cs'));
    const reprotect = await drctl('server', ['reprotect', file]);
    expect(reprotect.err).toBe('');
    expect(reprotect.code).toBe(0);
    expect(reprotect.out).toContain('3 VM(s) reversed: 0.0 MiB to resynchronize');
    expect(reprotect.out).toContain('replication health Normal for 3/3 VMs');
    expect(reprotect.out).toMatch(/failover planned-\S+ is now reprotected/);

    const again = await drctl('server', ['failback', file, '--detach', '--json']);
    expect(again.code).toBe(0);
    const detached = lastJson(again.out);
    expect(detached).toMatchObject({ thenReprotect: true, execution: expect.any(String) });
    expect(
      (await waitForStatus(live.engine.client, String(detached.execution), ['reprotected', 'failed'])).status,
    ).toBe('reprotected');

    const none = join(temp('drorch-cs-'), 'none.yaml');
    writeFileSync(none, smallPlanText('nothing-here'));
    const [served, local] = await Promise.all([
      drctl('server', ['reprotect', none]),
      drctl('direct', ['reprotect', none]),
    ]);
    expect(local.code).toBe(2);
    expect(served.code).toBe(2);
    expect(served.err).toBe(local.err);
    expect(served.err).toContain(`${none}: plan nothing-here has no failover to reprotect`);
  });

  it('refuses a flag of the direct path given with a server, and an unreachable server in one line', async () => {
    const prefixed = await drctl('server', ['commit', 'x', '--prefix', 'other']);
    expect(prefixed.code).toBe(2);
    expect(prefixed.err).toContain('--prefix is for the engine in this process');
    const gone = await drctl('server', [
      'step',
      'retry',
      'x',
      'a/b',
      '--reason',
      'r',
      '--server',
      'http://127.0.0.1:9',
    ]);
    expect(gone.code).toBe(1);
    expect(gone.err.trim().split('\n')).toHaveLength(1);
    expect(gone.err).toMatch(/^drctl: the port of http:\/\/127\.0\.0\.1:9 is one that HTTP clients refuse/);
  });

  // Last: it powers the source site off.
  it('a blocked pre-flight prints the same located report and exits 1 either way, changing nothing', async () => {
    const id = await failOverFromLostSource(live.engine, lost.plan, lost.hash);
    const [served, local] = await Promise.all([
      drctl('server', ['cancel', id, '--json']),
      drctl('direct', ['cancel', id, '--json']),
    ]);
    expect(local.code).toBe(1);
    expect(served.code).toBe(1);
    const [a, b] = [JSON.parse(served.out), JSON.parse(local.out)];
    expect(a).toMatchObject({ ok: false, code: 'PREFLIGHT_BLOCKED' });
    expect(a.preflight.blockers).toHaveLength(3);
    expect(a.preflight.blockers).toEqual(b.preflight.blockers);
    const [text, textLocal] = await Promise.all([
      drctl('server', ['cancel', id]),
      drctl('direct', ['cancel', id]),
    ]);
    expect(text.code).toBe(1);
    // The same report but for the simulated time each read the sites at.
    const at = (out: string) => out.replace(/at \d{4}-\d\d-\d\dT[\d:.]+Z/, 'at <time>');
    expect(at(text.out)).toBe(at(textLocal.out));
    expect(text.out).toContain(`cl: blocker ONLY_RUNNING_COPY: cl-db runs at dc-west`);
    expect((await live.engine.client.get(id)).status).toBe('completed');
  });
});
