/**
 * `drctl sim truth|status|advance|fault` read DR_SIM_URL when --url is not given, as the run
 * commands do (the README exports DR_SIM_URL once); without either, or with something that is not
 * a URL, they say so as bad input (exit 2) instead of a usage error or a TypeError.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlan } from '../../engine/plan/index.ts';
import { type SimServer, startSimServer, type World, worldForPlan } from '../../simulators/index.ts';
import { drctl } from './support.ts';

const file = 'plans/examples/three-tier.yaml';

describe('drctl sim with DR_SIM_URL', { timeout: 60_000 }, () => {
  let world: World;
  let server: SimServer;
  beforeAll(async () => {
    const parsed = parsePlan(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error(`${file} does not parse`);
    world = worldForPlan(parsed.plan, { clock: { mode: 'manual' } });
    server = await startSimServer(world.api);
  });
  afterAll(async () => {
    await server.close();
    world.close();
  });

  it('truth and status read the simulator DR_SIM_URL names', async () => {
    const truth = await drctl(['sim', 'truth', '--vm', 'sql-01'], { env: { DR_SIM_URL: server.url } });
    expect(truth.code).toBe(0);
    expect((JSON.parse(truth.stdout) as { vm: { primarySites: string[] } }).vm.primarySites).toEqual([
      'dc-east',
    ]);
    const status = await drctl(['sim', 'status', '--json'], { env: { DR_SIM_URL: server.url } });
    expect(status.code).toBe(0);
  });

  it('fault and advance act on it', async () => {
    const before = Date.parse(world.nowIso());
    const advance = await drctl(['sim', 'advance', '--by', '30s'], { env: { DR_SIM_URL: server.url } });
    expect(advance.code).toBe(0);
    expect(Date.parse(world.nowIso()) - before).toBe(30_000);
    const fault = await drctl(['sim', 'fault', 'boot', '--vm', 'app-01', '--mode', 'fail'], {
      env: { DR_SIM_URL: server.url },
    });
    expect(fault.stderr).toBe('');
    expect(fault.code).toBe(0);
    expect(JSON.parse(fault.stdout)).toEqual({
      ok: true,
      fault: { kind: 'boot', vm: 'app-01', mode: 'fail' },
    });
  });

  it('--url wins over DR_SIM_URL', async () => {
    const truth = await drctl(['sim', 'truth', '--url', server.url], {
      env: { DR_SIM_URL: 'http://127.0.0.1:1' },
    });
    expect(truth.code).toBe(0);
  });

  it('neither --url nor DR_SIM_URL, or not a URL: one line saying what to give, exit 2', async () => {
    const none = await drctl(['sim', 'truth']);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(
      'drctl: drctl sim truth needs the simulator: give --url <url> or set DR_SIM_URL (the URL `drctl sim serve` prints)\n',
    );
    const fault = await drctl(['sim', 'fault', 'host-up', '--site', 'dc-east', '--host', 'h1']);
    expect(fault.code).toBe(2);
    expect(fault.stderr).toContain('drctl sim fault host-up needs the simulator');
    const bad = await drctl(['sim', 'status'], { env: { DR_SIM_URL: 'notaurl' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'drctl: "notaurl" (DR_SIM_URL) is not a URL: give one like http://127.0.0.1:7070\n',
    );
  });
});
