import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../../support/temp.ts';
import { planText } from './helpers.ts';

const temp = useTempDirs();

const run = promisify(execFile);

async function drctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['bin/drctl.js', ...args], {
      env: { ...process.env, LOG_LEVEL: 'silent' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function tempPlan(text: string): Promise<string> {
  const file = join(temp('drctl-'), 'plan.yaml');
  await writeFile(file, text);
  return file;
}

describe('drctl validate', () => {
  it('exits 0 for the example plans', async () => {
    const result = await drctl(
      'validate',
      'plans/examples/three-tier.yaml',
      'plans/examples/sharepoint-farm.yaml',
      'plans/examples/estate-200.yaml',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('plans/examples/estate-200.yaml: ok, plan estate-200: 200 VMs');
  });

  it('exits 2 and prints compiler-style errors on stderr', async () => {
    const file = await tempPlan(
      planText('    - { name: a, dependsOn: [c] }\n    - { name: c, dependsOn: [a] }'),
    );
    const result = await drctl('validate', file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${file}:8:30: error: dependency cycle: a → c → a [spec.vms[0].dependsOn[0]]`,
    );
    expect(result.stdout).toBe('');
  });

  it('prints clean JSON with --json', async () => {
    const file = await tempPlan('kind: [');
    const result = await drctl('validate', '--json', file, 'plans/examples/three-tier.yaml');
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      files: { ok: boolean; issues?: { code: string }[] }[];
    };
    expect(report.ok).toBe(false);
    expect(report.files.map((f) => f.ok)).toEqual([false, true]);
    expect(report.files[0]?.issues?.[0]?.code).toBe('yaml-syntax');
  });
});

describe('drctl plan show', () => {
  it('prints the waves, critical path and both estimates', async () => {
    const result = await drctl('plan', 'show', 'plans/examples/three-tier.yaml');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Critical path \(\d[^)]* simulated\)/);
    // Plan estimates are simulated time, and say so (issue 10).
    expect(result.stdout).toContain("RTO estimate (simulated time: the plan's step estimates");
    expect(result.stdout).toMatch(/dependency graph\s+\d/);
    expect(result.stdout).toMatch(/sequential groups \(ASR\/SRM\)\s+\d/);
  });

  it('draws the graph as mermaid and dot', async () => {
    const mermaid = await drctl('plan', 'show', 'plans/examples/three-tier.yaml', '--format', 'mermaid');
    expect(mermaid.stdout.startsWith('flowchart LR\n')).toBe(true);
    expect(mermaid.stdout).toContain('["sql-01 fence 5s"]'); // unplanned (the default type) fences first
    const dot = await drctl(
      'plan',
      'show',
      'plans/examples/three-tier.yaml',
      '--format',
      'dot',
      '--type',
      'planned',
    );
    expect(dot.stdout).toContain('"sql-01/shutdown" -> ');
  });

  it('exits 2 on a bad --type', async () => {
    expect((await drctl('plan', 'show', 'plans/examples/three-tier.yaml', '--type', 'sideways')).code).toBe(
      2,
    );
  });
});

// Regression (issue 10): a setting the engine accepts is never silently ignored.
describe('when a plan turns automaticFailover on', () => {
  const text = planText('    - name: a', '  automaticFailover: { enabled: true, after: 5m }');
  const expected =
    'automaticFailover takes effect only once an admin arms the plan on the control plane: until `drctl auto arm` it never fails over by itself';

  async function withPlan(body: (file: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'drctl-auto-'));
    try {
      const file = join(dir, 'plan.yaml');
      await writeFile(file, text);
      await body(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('drctl validate says it needs arming, at spec.automaticFailover, and the plan stays valid', () =>
    withPlan(async (file) => {
      const result = await drctl('validate', file);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`${file}:9:`);
      expect(result.stderr).toContain(`warning: ${expected} [spec.automaticFailover]`);
      const json = JSON.parse((await drctl('validate', '--json', file)).stdout) as {
        files: { warnings: { code: string; path: string }[] }[];
      };
      expect(json.files[0]?.warnings).toContainEqual(
        expect.objectContaining({ code: 'auto-failover-not-armed', path: 'spec.automaticFailover' }),
      );
    }));

  it('drctl plan show says so too, in text and in --json', () =>
    withPlan(async (file) => {
      const text = await drctl('plan', 'show', file);
      expect(text.code).toBe(0);
      expect(text.stderr).toContain(`warning: ${expected} [spec.automaticFailover]`);
      const json = JSON.parse((await drctl('plan', 'show', '--json', file)).stdout) as {
        warnings: { code: string; message: string }[];
      };
      expect(json.warnings).toContainEqual(
        expect.objectContaining({ code: 'auto-failover-not-armed', message: expected }),
      );
    }));
});

describe('drctl plan generate', () => {
  it('writes the same plan for the same seed, and it validates', async () => {
    const a = await drctl('plan', 'generate', '--vms', '120', '--depth', '4', '--seed', '9');
    const b = await drctl('plan', 'generate', '--vms', '120', '--depth', '4', '--seed', '9');
    expect(a.stdout).toBe(b.stdout);
    const file = await tempPlan(a.stdout);
    expect((await drctl('validate', file)).code).toBe(0);
  });

  it('exits 2 on a bad --vms', async () => {
    const result = await drctl('plan', 'generate', '--vms', 'many');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--vms must be a whole number');
  });
});
