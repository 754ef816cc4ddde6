/**
 * The CLI's run commands through the control plane (DR_SERVER / --server) print and exit as they do
 * on Redis directly (REDIS_URL + --sim): the same commands run both ways as real `drctl` processes
 * against one engine (a control plane in this process with its orchestrator, the sites' workers
 * and the world), and their --json output, stderr and exit codes are compared. What differs by
 * nature (ids, times, durations) is masked before the comparison, nothing else.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimServer, startSimServer } from '../../simulators/index.ts';
import { type ApiEngine, startApiEngine } from '../control/support.ts';
import { type DrctlRun, drctl } from './support.ts';

const TIMING = new Set([
  'durationMs',
  'runMs',
  'rtoMs',
  'gatherMs',
  'evaluateMs',
  'apiCalls',
  'epoch',
  'spreadMs',
  'elapsedMs',
  // Which VM replicated last moves with the world's clock.
  'newestVm',
  'oldestVm',
]);
const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g;
// The world's clock runs between the two runs: recovery points and their ages move on.
const POINT = /\b(dc-[\w-]+\.[\w-]+)\.\d+\b/g;
const DURATION = /\b\d+(\.\d+)?(ms|s|m|h|d)( \d+(\.\d+)?(ms|s|m))?\b/g;
const RUN_ID = /\b[a-z]+-\d{8}-\d{6}-[0-9a-f]{6}(-[a-z]+-\d+)?\b/g;

/** Ids, times and measured durations masked; everything else as printed. */
function masked(value: unknown): unknown {
  if (typeof value === 'string')
    return value
      .replace(ISO, '<time>')
      .replace(RUN_ID, '<run>')
      .replace(POINT, '$1.<n>')
      .replace(DURATION, '<duration>');
  if (Array.isArray(value)) return value.map(masked);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [
        key,
        TIMING.has(key) || (key.endsWith('Ms') && typeof v === 'number') ? '<ms>' : masked(v),
      ]),
    );
  return value;
}

function jsonLines(run: DrctlRun): unknown[] {
  return run.stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => masked(JSON.parse(line)));
}

describe('drctl over the control plane', { timeout: 300_000 }, () => {
  let api: ApiEngine;
  let sim: SimServer;
  let badPlan: string;
  beforeAll(async () => {
    api = await startApiEngine();
    sim = await startSimServer(api.engine.world.api);
    badPlan = join(api.file, '..', 'bad.yaml');
    writeFileSync(badPlan, api.text.replace('dependsOn: [app-01, app-02]', 'dependsOn: [app-01, app-03]'));
  }, 60_000);
  afterAll(async () => {
    await sim?.close();
    await api?.close();
  });

  const direct = (args: string[]) =>
    drctl(
      [
        ...args,
        ...(args[0] === 'drill' || args[0] === 'preflight' || args[0] === 'failover'
          ? ['--sim', sim.url]
          : []),
        '--prefix',
        api.engine.prefix,
      ],
      {
        env: { REDIS_URL: api.engine.redisUrl },
      },
    );
  const served = (args: string[]) =>
    drctl(args, { env: { DR_SERVER: api.control.url, DR_TOKEN: api.token } });

  /** Both ways; the exit codes, stderr and masked --json output must match. */
  async function both(args: string[]): Promise<[DrctlRun, DrctlRun]> {
    const [a, b] = [await direct(args), await served(args)];
    expect(b.code, `${args.join(' ')} over the server: ${b.stderr}`).toBe(a.code);
    expect(b.stderr.replace(RUN_ID, '<run>')).toBe(a.stderr.replace(RUN_ID, '<run>'));
    expect(jsonLines(b)).toEqual(jsonLines(a));
    return [a, b];
  }

  it('refuses an invalid plan with the same located errors (exit 2)', async () => {
    const [a] = await both(['drill', badPlan, '--json']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/bad\.yaml:\d+:\d+: error: .*app-03/);
  });

  it('refuses an unknown VM in --vms the same way (exit 2)', async () => {
    const [a] = await both(['drill', api.file, '--vms', 'sql-01,nope-01', '--json']);
    expect(a.code).toBe(2);
  });

  describe('a drill run directly, then one through the control plane', () => {
    let first: DrctlRun;
    let id = '';
    it('runs the drill directly', async () => {
      first = await direct(['drill', api.file, '--json']);
      expect(first.code, first.stderr).toBe(0);
      id = (JSON.parse(first.stdout) as { id: string }).id;
    });

    it('blocks a second drill while the first awaits cleanup: the same report, exit 1', async () => {
      const [a] = await both(['drill', api.file, '--json']);
      expect(a.code).toBe(1);
      expect(JSON.parse(a.stdout)).toMatchObject({ ok: false, code: 'PREFLIGHT_BLOCKED' });
    });

    it('shows the same status, list and events of the drill', async () => {
      const [status] = await both(['status', id, '--json']);
      expect(status.code).toBe(0);
      // The same execution read both ways: byte for byte.
      const [a, b] = [await direct(['status', id, '--json']), await served(['status', id, '--json'])];
      expect(b.stdout).toBe(a.stdout);
      const [events] = await both(['events', id, '--json']);
      expect(events.stdout.trim().split('\n').length).toBeGreaterThan(10);
      const [ea, eb] = [await direct(['events', id, '--json']), await served(['events', id, '--json'])];
      expect(eb.stdout.split('\n')).toEqual(ea.stdout.split('\n'));
      await both(['status', '--json', '--limit', '5']);
    });

    it('answers an unknown execution and an unknown action the same way (exit 2)', async () => {
      const [status] = await both(['status', 'no-such-run', '--json']);
      expect(status.code).toBe(2);
      const [approve] = await both(['approve', id, 'confirm-sna']);
      expect(approve.code).toBe(2);
    });

    it('cleans up directly, then runs and cleans up the same drill through the server', async () => {
      const cleanup = await direct(['cleanup', id, '--json']);
      expect(cleanup.code, cleanup.stderr).toBe(0);
      const second = await served(['drill', api.file, '--json']);
      expect(second.code, second.stderr).toBe(0);
      expect(jsonLines(second)).toEqual(jsonLines(first));
      const again = (JSON.parse(second.stdout) as { id: string }).id;
      const secondCleanup = await served(['cleanup', again, '--json']);
      expect(secondCleanup.code, secondCleanup.stderr).toBe(0);
      expect(jsonLines(secondCleanup)).toEqual(jsonLines(cleanup));
    });
  });

  it('gives the same pre-flight report and dry run', async () => {
    await both(['preflight', api.file, '--json']);
    const [dry] = await both(['drill', api.file, '--dry-run', '--json']);
    expect(dry.code).toBe(0);
  });

  it('runs a planned failover through --server; its status (with its lifecycle) reads the same both ways', async () => {
    const run = await drctl([
      'failover',
      api.file,
      '--planned',
      '--approve-manual',
      '--json',
      '--server',
      api.control.url,
      '--token',
      api.token,
    ]);
    expect(run.code, `${run.stderr}\n${run.stdout}`).toBe(0);
    const view = JSON.parse(run.stdout) as { id: string; status: string };
    expect(view.status).toBe('completed');
    const [a, b] = [await direct(['status', view.id, '--json']), await served(['status', view.id, '--json'])];
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    expect(JSON.parse(b.stdout)).toHaveProperty('lifecycle.pointOfNoReturn');
  });

  it('refuses --sim and --prefix with the control plane instead of ignoring them (exit 2)', async () => {
    const sim = await served(['drill', api.file, '--sim', 'http://127.0.0.1:1']);
    expect(sim.code).toBe(2);
    expect(sim.stderr).toMatch(/it reads the sites itself; drop --sim/);
    const prefix = await served(['status', '--prefix', 'other']);
    expect(prefix.code).toBe(2);
    expect(prefix.stderr).toMatch(/drop --prefix/);
  });

  it('says in one line when the control plane cannot be reached (exit 1)', async () => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const address = free.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await new Promise((resolve) => free.close(resolve));
    const run = await drctl(['status'], { env: { DR_SERVER: url } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^drctl: connection refused at http:\/\/127\.0\.0\.1:\d+: is `drctl up` or `drctl serve` running\?/,
    );
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
