/**
 * One agent serves a site. Regression: a second `drctl agent` for a site whose agent was live
 * silently replaced it (the latest hello won), so a mistyped --site or a second copy took a running
 * site's work away. Now it is refused in one line (exit 1) unless it says --replace; then the one it
 * replaced stops by itself, saying so.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistrationKey, vaultFingerprint } from '../../engine/control/vault/index.ts';
import { drctl, startDrctl } from '../cli/support.ts';
import { actionFixtures } from '../engine/support.ts';
import { adminToken, bearer } from '../support/auth.ts';
import { tlsRequest } from '../vault/support.ts';
import { type AgentStack, startAgentStack } from './stack.ts';

const PLAN = 'plans/examples/three-tier.yaml';

describe('a second agent for a site whose agent is live', { timeout: 90_000 }, () => {
  let stack: AgentStack;
  let server = '';
  let redis: Redis;
  // The second agent is a registered one of its own (its own key, certificate and folder): a
  // certificate of the site, and still refused while the first one's session is live.
  const stateDir = mkdtempSync(join(tmpdir(), 'drorch-second-agent-'));
  let key = '';
  beforeAll(async () => {
    const fixtures = await actionFixtures();
    stack = await startAgentStack(PLAN, { catalog: fixtures.catalog });
    server = (await stack.serve()).url;
    redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    key = (
      await createRegistrationKey(redis, stack.prefix, 'dc-west', await vaultFingerprint(redis, stack.prefix))
    ).key;
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    redis?.disconnect();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const second = (extra: string[] = []) => [
    'agent',
    '--site',
    'dc-west',
    '--hosts',
    stack.simUrl,
    '--server',
    server,
    '--state-dir',
    stateDir,
    ...extra,
  ];

  it('is refused in one line naming the running agent and --replace, exit 1; the first keeps the site', async () => {
    const first = await stack.agent('dc-west', server);
    const run = await drctl(second(['--register', key]));
    expect(run.code, run.stderr).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^drctl: site dc-west is served by agent \S+ \(last heard \d+ ms ago\);.*--replace/,
    );
    expect(run.stdout).toBe('');
    const ca = readFileSync(join(stateDir, 'dc-west', 'ca.pem'), 'utf8');
    const answer = await tlsRequest(server, [ca], 'GET', '/api/v1/sites', {
      headers: bearer(await adminToken({ redis, prefix: stack.prefix })),
    });
    const sites = answer.body as { sites: Array<{ site: string; agentId: string; live: boolean }> };
    const west = sites.sites.find((s) => s.site === 'dc-west');
    expect(west?.live).toBe(true);
    expect(lines[0]).toContain(`agent ${west?.agentId} `);
    expect(first.child.exitCode).toBeNull();
    // The refused hello left the first agent's replay window alone: it goes on beating. (A refused
    // hello used to take the window over, so the first agent's next message was AGENT_REPLACED and
    // it stopped.) Three heartbeats of 1 s.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(first.child.exitCode).toBeNull();

    // --replace takes the site over; the replaced one is told on its next call and stops (exit 1).
    const replacing = startDrctl([...second(['--replace']), '--json']);
    try {
      await replacing.waitFor(/"ready":true/);
      const gone = await first.exited;
      expect(gone.code).toBe(1);
      // The vault's gate sees the newer incarnation first (mTLS); without it the session check would.
      expect(first.output()).toMatch(
        /drctl: (session|agent incarnation) \S+ of site dc-west was replaced by a later (hello|one)/,
      );
    } finally {
      replacing.child.kill('SIGTERM');
      await replacing.done;
    }
  });
});
