/**
 * The site monitor in two real control planes on one Redis (issue 13, first part): one leader,
 * leases counted from the agents' heartbeats on the leader's clock, online → suspect → expired
 * (never lost: the witness is not built) and back online; the leader closed, the other one takes
 * over and watches a full lease before it trusts anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTROL_VERSION,
  type ControlPlane,
  controlRoutes,
  startControlPlane,
} from '../../engine/control/index.ts';
import { silent } from '../engine/support.ts';
import { adminToken, bearer } from '../support/auth.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

const SITE = 'dc-east';
const monitor = { leaseMs: 1500, suspectAfterMs: 500, marginMs: 500, witnessEveryMs: 500, tickMs: 50 };

describe('the site monitor of the control planes', { timeout: 60_000 }, () => {
  const prefix = uniquePrefix('site-monitor');
  let a: ControlPlane;
  let b: ControlPlane;
  let token: string;
  let session: string;
  let beating: NodeJS.Timeout | undefined;

  const post = (control: ControlPlane, url: string, payload: object) =>
    control.app.inject({ method: 'POST', url, payload });
  const leaseOf = async (
    control: ControlPlane,
  ): Promise<{ state: string; leaseLeftMs: number } | undefined> => {
    const reply = await control.app.inject({ url: '/api/v1/sites', headers: bearer(token) });
    expect(reply.statusCode, reply.body).toBe(200);
    return (reply.json().sites as { site: string; lease?: { state: string; leaseLeftMs: number } }[]).find(
      (s) => s.site === SITE,
    )?.lease;
  };
  const until = async (control: ControlPlane, state: string, ms = 10_000): Promise<void> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const lease = await leaseOf(control);
      if (lease?.state === state) return;
      if (Date.now() > deadline) throw new Error(`lease still ${lease?.state}, not ${state}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const startBeating = (): void => {
    beating = setInterval(
      () => void post(a, `/api/v1/agents/${SITE}/heartbeat`, { session, running: [] }),
      100,
    );
  };
  const stopBeating = (): void => clearInterval(beating);

  beforeAll(async () => {
    const options = { redisUrl: testRedisUrl(), prefix, port: 0, routes: controlRoutes, logger: silent };
    a = await startControlPlane({ ...options, siteMonitor: monitor });
    b = await startControlPlane({ ...options, siteMonitor: monitor });
    token = await adminToken(a);
    const hello = await post(a, `/api/v1/agents/${SITE}/hello`, {
      site: SITE,
      agentId: `agent-${SITE}`,
      version: CONTROL_VERSION,
      scriptCatalog: { scripts: {} },
    });
    expect(hello.statusCode, hello.body).toBe(200);
    session = hello.json().session;
  }, 30_000);
  afterAll(async () => {
    stopBeating();
    await a?.close(2000);
    await b?.close(2000);
  });

  it('goes online with renewals, suspect and then expired without them (never lost), and online again', async () => {
    startBeating();
    await until(a, 'online');
    // Either control plane answers with what the one leader wrote.
    expect((await leaseOf(b))?.state).toBe('online');
    stopBeating();
    await until(a, 'suspect');
    await until(a, 'expired');
    const expired = await leaseOf(a);
    expect(expired?.leaseLeftMs).toBeLessThanOrEqual(0);
    // Well past lease + margin, and still not lost: no witness has agreed.
    await new Promise((resolve) => setTimeout(resolve, monitor.leaseMs + monitor.marginMs));
    expect((await leaseOf(a))?.state).toBe('expired');
    startBeating();
    await until(a, 'online');
  });

  it('has one leader; the other takes over when it closes, and watches before it trusts a renewal', async () => {
    const leaders = [a, b].filter((c) => c.monitor.leading);
    expect(leaders).toHaveLength(1);
    const [leader] = leaders;
    const other = leader === a ? b : a;
    stopBeating();
    await leader?.close(2000);
    // The other one leads within its leader lease, and starts at watching (renewals stopped).
    const deadline = Date.now() + 5000;
    while (!other.monitor.leading && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(other.monitor.leading).toBe(true);
    await until(other, 'watching');
    // Renewals again (through the one still running): online.
    beating = setInterval(
      () => void post(other, `/api/v1/agents/${SITE}/heartbeat`, { session, running: [] }),
      100,
    );
    await until(other, 'online');
  });
});
