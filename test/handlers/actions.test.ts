import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import type { StepResult } from '../../engine/contract/index.ts';
import {
  type ActionMemo,
  memoryActionMemo,
  resolveHandlerOptions,
  runStepJob,
} from '../../engine/executor/handlers/index.ts';
import type { ActionRun, PlanAction } from '../../engine/plan/types.ts';
import type { HyperVApi } from '../../simulators/index.ts';
import { jobData, MemorySink, TARGET } from './support.ts';

/** Actions never touch hosts: an API that fails loudly if they do. */
const noHosts = new Proxy({} as HyperVApi, {
  get: (_t, op) => () => Promise.reject(new Error(`action called the host API (${String(op)})`)),
});

function action(run: ActionRun, extra: Partial<PlanAction> = {}): PlanAction {
  return {
    name: 'update-dns',
    when: 'after',
    vm: 'web-01',
    run,
    timeoutMs: 5000,
    on: ['planned', 'unplanned', 'test'],
    directions: ['forward'],
    onFailure: {
      retries: 0,
      backoff: { initialMs: 1000, factor: 2, maxMs: 60_000 },
      outcome: 'fail-plan',
    },
    ...extra,
  };
}

async function runAction(
  a: PlanAction,
  options: {
    catalog?: string;
    memo?: ActionMemo;
    jobId?: string;
    outputLimitBytes?: number;
    step?: string;
    attempt?: number;
  } = {},
): Promise<StepResult> {
  const data = jobData('planned', TARGET, [options.step ?? `action/${a.name}`], { action: a, plan: 'erp' });
  if (options.attempt !== undefined) data.attempt = options.attempt;
  const run = await runStepJob(options.jobId ?? 'ex1.action', data, {
    api: noHosts,
    log: createLogger('test', { level: 'silent', pretty: false }),
    events: new MemorySink(),
    ...(options.memo ? { memo: options.memo } : {}),
    options: resolveHandlerOptions({
      ...(options.catalog === undefined ? { scriptCatalog: '' } : { scriptCatalog: options.catalog }),
      ...(options.outputLimitBytes === undefined ? {} : { outputLimitBytes: options.outputLimitBytes }),
    }),
    signal: new AbortController().signal,
  });
  const step = run.result.steps[0];
  if (!step) throw new Error('no step result');
  return step;
}

const script = (name: string, args: Record<string, string> = {}): ActionRun => ({
  type: 'script',
  script: name,
  runOn: 'target',
  args,
});

/** The process exists and is not a zombie (Linux /proc; a zombie has ended, only its exit status waits). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('script actions', () => {
  let catalog: string;
  beforeAll(() => {
    catalog = mkdtempSync(join(tmpdir(), 'dr-catalog-'));
    writeFileSync(
      join(catalog, 'update-dns.sh'),
      'echo "exec=$DR_EXECUTION plan=$DR_PLAN type=$DR_TYPE vm=$DR_VM site=$DR_SITE to=$DR_TO_SITE zone=$DR_ARG_ZONE"\n',
    );
    writeFileSync(join(catalog, 'broken'), '#!/bin/sh\necho working\necho "zone file locked" >&2\nexit 3\n');
    chmodSync(join(catalog, 'broken'), 0o755);
    writeFileSync(join(catalog, 'slow.mjs'), 'setTimeout(() => {}, 30_000);\n');
    // Ignores SIGTERM, as does the child it leaves behind; records both pids.
    writeFileSync(
      join(catalog, 'stubborn'),
      `#!/bin/sh\ntrap '' TERM\nsleep 60 &\necho "$$ $!" > "${join(catalog, 'stubborn.pids')}"\nsleep 60\n`,
    );
    chmodSync(join(catalog, 'stubborn'), 0o755);
    writeFileSync(join(catalog, 'chatty.mjs'), "process.stdout.write('x'.repeat(100_000) + 'END');\n");
    writeFileSync(join(catalog, 'count.sh'), `echo run >> "${join(catalog, 'runs.txt')}"\n`);
    writeFileSync(
      join(catalog, 'env.sh'),
      'echo "undo=$DR_UNDO vms=$DR_VMS attempt=$DR_ATTEMPT step=$DR_STEP mode=$DR_ARG_MODE"\n',
    );
  });
  afterAll(() => rmSync(catalog, { recursive: true, force: true }));

  it('runs the catalog script with the execution in its environment', async () => {
    const step = await runAction(action(script('update-dns', { zone: 'corp.example' })), { catalog });
    expect(step.outcome).toBe('done');
    expect(step.output?.stdout).toBe(
      'exec=ex1 plan=erp type=planned vm=web-01 site=dc-west to=dc-west zone=corp.example\n',
    );
    expect(step.output?.exitCode).toBe(0);
  });

  it('fails with the exit code and the output when the script fails', async () => {
    const step = await runAction(action(script('broken')), { catalog });
    expect(step.outcome).toBe('failed');
    expect(step.error).toMatchObject({ code: 'SCRIPT_FAILED', retryable: false });
    expect(step.error?.message).toContain('zone file locked');
    expect(step.output).toMatchObject({ exitCode: 3, stdout: 'working\n' });
  });

  it('kills a script that outlives its timeout', async () => {
    const started = Date.now();
    const step = await runAction(action(script('slow'), { timeoutMs: 300 }), { catalog });
    expect(step.error?.code).toBe('SCRIPT_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('at its timeout kills the whole process group, what ignores SIGTERM too (SIGKILL after the grace)', async () => {
    const step = await runAction(action(script('stubborn'), { timeoutMs: 500 }), { catalog });
    expect(step.error?.code).toBe('SCRIPT_TIMEOUT');
    const pids = readFileSync(join(catalog, 'stubborn.pids'), 'utf8').trim().split(' ').map(Number);
    expect(pids).toHaveLength(2);
    // The supervisor has SIGKILLed its group when the step ends; the kernel and init finish it.
    const gone = Date.now() + 5000;
    while (pids.some(running) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
    expect(pids.filter(running)).toEqual([]);
  });

  it('keeps only the tail of a long output', async () => {
    const step = await runAction(action(script('chatty')), { catalog, outputLimitBytes: 1024 });
    expect(step.output?.truncated).toBe(true);
    const stdout = String(step.output?.stdout);
    expect(stdout.length).toBe(1024);
    expect(stdout.endsWith('END')).toBe(true);
  });

  it.each([
    ['no-such-script', 'SCRIPT_NOT_FOUND'],
    ['../etc/passwd', 'SCRIPT_NAME_INVALID'],
  ])('refuses %s with %s', async (name, code) => {
    const step = await runAction(action(script(name)), { catalog });
    expect(step.error?.code).toBe(code);
  });

  it('says how to configure a worker without a catalog', async () => {
    const step = await runAction(action(script('update-dns')));
    expect(step.error?.code).toBe('SCRIPT_CATALOG_UNSET');
    expect(step.error?.message).toContain('--script-catalog');
  });

  it('describes the run in DR_* variables: the VMs, the attempt, and whether it is an undo', async () => {
    const a = action(script('env'), { undo: script('env', { mode: 'restore' }) });
    const run = await runAction(a, { catalog, attempt: 2 });
    expect(run.output?.stdout).toBe('undo= vms=web-01 attempt=2 step=action/update-dns mode=\n');
    const undo = await runAction(a, { catalog, step: 'action/update-dns/undo' });
    expect(undo.outcome).toBe('done');
    expect(undo.output?.stdout).toBe(
      'undo=1 vms=web-01 attempt=1 step=action/update-dns/undo mode=restore\n',
    );
  });

  it('refuses to undo an action that has no undo, saying what to do', async () => {
    const step = await runAction(action(script('env')), { catalog, step: 'action/update-dns/undo' });
    expect(step.error?.code).toBe('NO_UNDO');
    expect(step.error?.message).toContain('undo:');
  });

  describe('when the job runs again after the script finished', () => {
    it('does not run the script a second time, whichever job runs it', async () => {
      const memo = memoryActionMemo();
      const a = action(script('count'));
      expect((await runAction(a, { catalog, memo })).outcome).toBe('done');
      const again = await runAction(a, { catalog, memo, jobId: 'ex1.action.a2' });
      expect(again.outcome).toBe('done');
      expect(again.output?.repeated).toBe(true);
      expect(readFileSync(join(catalog, 'runs.txt'), 'utf8')).toBe('run\n');
      expect(memo.events).toEqual([]);
    });
  });

  describe('when an earlier run never finished (its worker died mid-script)', () => {
    const interrupted = async (
      retries: number,
    ): Promise<{ step: StepResult; memo: ReturnType<typeof memoryActionMemo> }> => {
      const memo = memoryActionMemo();
      // The dead worker's mark, as it left it.
      await memo.begin('action/update-dns', {
        job: 'ex1.action',
        attempt: 1,
        startedAt: '2026-11-26T03:00:00.000Z',
        worker: 'dead-host/4242',
      });
      const a = action(script('env'), {
        onFailure: { retries, backoff: { initialMs: 0, factor: 1, maxMs: 0 }, outcome: 'pause' },
      });
      return { step: await runAction(a, { catalog, memo }), memo };
    };

    it('runs it again when its retries allow, with an action-rerun event saying why', async () => {
      const { step, memo } = await interrupted(1);
      expect(step.outcome).toBe('done');
      expect(memo.events).toHaveLength(1);
      expect(memo.events[0]).toMatchObject({
        type: 'action-rerun',
        step: 'action/update-dns',
        previous: { job: 'ex1.action', worker: 'dead-host/4242' },
      });
      expect(String((memo.events[0] as { reason: string }).reason)).toMatch(
        /never finished.*run 2 of at most 2/,
      );
    });

    it('does not run it again when its retries are spent: ACTION_INTERRUPTED, not retryable', async () => {
      const { step, memo } = await interrupted(0);
      expect(step.outcome).toBe('failed');
      expect(step.error).toMatchObject({ code: 'ACTION_INTERRUPTED', retryable: false });
      expect(step.error?.message).toContain('dead-host/4242');
      expect(memo.events).toEqual([]);
    });
  });
});

describe('webhook actions', () => {
  let server: Server;
  let base: string;
  const received: { body: unknown; headers: IncomingMessage['headers']; path: string | undefined }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          headers: req.headers,
          path: req.url,
        });
        if (req.url === '/slow') return; // never answers
        res.statusCode = req.url === '/down' ? 503 : 200;
        res.end(req.url === '/down' ? 'maintenance' : '{"ok":true}');
      });
    });
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('posts the execution context as JSON with the headers and an idempotency key', async () => {
    const step = await runAction(
      action({ type: 'webhook', url: `${base}/hook`, headers: { authorization: 'Bearer t0k' } }),
    );
    expect(step.outcome).toBe('done');
    expect(step.output).toMatchObject({ status: 200, body: '{"ok":true}' });
    const got = received.find((r) => r.path === '/hook');
    expect(got?.headers.authorization).toBe('Bearer t0k');
    expect(got?.headers['idempotency-key']).toBe('ex1.action/action/update-dns');
    expect(got?.body).toMatchObject({
      execution: 'ex1',
      plan: 'erp',
      type: 'planned',
      action: 'update-dns',
      vm: 'web-01',
      site: TARGET,
      epoch: 1,
      attempt: 1,
    });
  });

  it('fails, retryable, when the receiver answers 503', async () => {
    const step = await runAction(action({ type: 'webhook', url: `${base}/down`, headers: {} }));
    expect(step.error).toMatchObject({ code: 'WEBHOOK_FAILED', retryable: true });
    expect(step.output).toMatchObject({ status: 503, body: 'maintenance' });
  });

  it('gives up at the action timeout', async () => {
    const step = await runAction(
      action({ type: 'webhook', url: `${base}/slow`, headers: {} }, { timeoutMs: 200 }),
    );
    expect(step.error?.code).toBe('WEBHOOK_TIMEOUT');
  });

  it('reports an unreachable receiver', async () => {
    const step = await runAction(action({ type: 'webhook', url: 'http://127.0.0.1:1/hook', headers: {} }));
    expect(step.error?.code).toBe('WEBHOOK_UNREACHABLE');
  });
});

describe('manual actions', () => {
  it('are refused by workers: the orchestrator asks the operator', async () => {
    const step = await runAction(
      action({ type: 'manual', instruction: 'Confirm SAN replication is paused' }),
    );
    expect(step.error?.code).toBe('MANUAL_ACTION_NOT_FOR_WORKERS');
  });
});
