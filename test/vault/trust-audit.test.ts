/**
 * The vault's own events on the audit record (issue 12): an agent's registration taken and
 * refused, and a certificate refused at the agents' door (none, another site's), each an entry
 * with the site's agent as actor, the route, the IP and the refusal's code; the chain still verifies.
 */

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAgent } from '../../engine/agent/index.ts';
import type { AuditEntry } from '../../engine/control/audit/index.ts';
import { CONTROL_VERSION } from '../../engine/control/index.ts';
import {
  createRegistrationKey,
  revokeSite,
  vaultFingerprint,
  vaultKeys,
} from '../../engine/control/vault/index.ts';
import { useTempDirs } from '../support/temp.ts';
import { presented, stampOf, startVaultStack, tlsRequest, type VaultStack } from './support.ts';

const temp = useTempDirs();
let stack: VaultStack;

beforeAll(async () => {
  stack = await startVaultStack(temp);
});
afterAll(async () => {
  await stack?.close();
});

/** The entries matching `match`, once they are there (the gate appends after it answered). */
async function entriesOf(match: (e: AuditEntry) => boolean): Promise<AuditEntry[]> {
  for (let i = 0; i < 100; i += 1) {
    const found = (await stack.control.ctx.audit?.read())?.filter(match) ?? [];
    if (found.length > 0) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  return [];
}

describe("the vault's events on the audit record", () => {
  it('a registration taken, then the same key refused as used', async () => {
    const fingerprint = await vaultFingerprint(stack.redis, stack.prefix);
    const { key } = await createRegistrationKey(stack.redis, stack.prefix, 'dc-audit', fingerprint);
    await registerAgent({ server: stack.control.url, site: 'dc-audit', key, dir: temp('drorch-a-') });
    await expect(
      registerAgent({ server: stack.control.url, site: 'dc-audit', key, dir: temp('drorch-b-') }),
    ).rejects.toMatchObject({ code: 'REGISTRATION_KEY_USED' });
    await expect.poll(async () => (await entriesOf((e) => e.actor === 'agent:dc-audit')).length).toBe(2);
    const all = await entriesOf((e) => e.action === 'agent:register' && e.actor === 'agent:dc-audit');
    expect(all.map((e) => [e.outcome, e.status, e.code])).toEqual([
      ['accepted', 200, undefined],
      ['refused', 401, 'REGISTRATION_KEY_USED'],
    ]);
    expect(all[0]?.route).toBe('POST /api/v1/vault/register');
    expect(all[0]?.ip).toMatch(/127\.0\.0\.1/);
  });

  it('an agent route without a certificate, and with another site’s, refused on the record', async () => {
    const ca = stack.control.ca ?? [];
    const none = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-nocert/hello', {
      body: {},
    });
    expect(none.status).toBe(401);
    const [noCert] = await entriesOf(
      (e) => e.code === 'CLIENT_CERT_REQUIRED' && e.actor === 'agent:dc-nocert',
    );
    expect(noCert).toMatchObject({
      action: 'agent:call',
      route: 'POST /api/v1/agents/:site/hello',
      outcome: 'refused',
      status: 401,
    });

    const east = await stack.register('dc-east-audit');
    const other = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-west-audit/hello', {
      as: presented(east),
      body: {},
    });
    expect(other.status).toBe(403);
    const [forbidden] = await entriesOf(
      (e) => e.code === 'SITE_FORBIDDEN' && e.actor === 'agent:dc-west-audit',
    );
    expect(forbidden).toMatchObject({ outcome: 'refused', status: 403 });
    expect(forbidden?.detail).toContain('the agent certificate of site dc-east-audit');
    expect(await stack.control.ctx.audit?.verify()).toMatchObject({ ok: true });
  });
});

describe('when a site is revoked', () => {
  it('its registration keys not used yet are deleted: none registers an agent after', async () => {
    const fingerprint = await vaultFingerprint(stack.redis, stack.prefix);
    const used = await createRegistrationKey(stack.redis, stack.prefix, 'dc-gone', fingerprint);
    await registerAgent({
      server: stack.control.url,
      site: 'dc-gone',
      key: used.key,
      dir: temp('drorch-g-'),
    });
    const unused = await createRegistrationKey(stack.redis, stack.prefix, 'dc-gone', fingerprint);
    const otherSite = await createRegistrationKey(stack.redis, stack.prefix, 'dc-stays', fingerprint);
    await revokeSite(stack.redis, stack.prefix, 'dc-gone');
    await expect(
      registerAgent({ server: stack.control.url, site: 'dc-gone', key: unused.key, dir: temp('drorch-h-') }),
    ).rejects.toMatchObject({ code: 'REGISTRATION_KEY_UNKNOWN' });
    // The used one still says so; another site's key is untouched.
    await expect(
      registerAgent({ server: stack.control.url, site: 'dc-gone', key: used.key, dir: temp('drorch-i-') }),
    ).rejects.toMatchObject({ code: 'REGISTRATION_KEY_USED' });
    await registerAgent({
      server: stack.control.url,
      site: 'dc-stays',
      key: otherSite.key,
      dir: temp('drorch-j-'),
    });
    expect(await stack.redis.scard(vaultKeys(stack.prefix).registrations('dc-gone'))).toBe(1);
  });
});

describe("a 403 an agent route's handler raises", () => {
  it("is counted with the gate's refusals (drorch_agent_refused_total) by its code", async () => {
    const ca = stack.control.ca ?? [];
    const identity = await stack.register('dc-handler');
    const inc = `test-${randomBytes(6).toString('hex')}`;
    const hello = {
      site: 'dc-handler',
      agentId: 'a',
      version: CONTROL_VERSION,
      scriptCatalog: { scripts: {} },
    };
    const said = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-handler/hello', {
      as: presented(identity),
      body: hello,
      headers: stampOf(identity, inc, 0, hello),
    });
    expect(said.status, JSON.stringify(said.body)).toBe(200);
    const count = async (): Promise<number> =>
      (await stack.control.ctx.metrics.agentRefused.get()).values.find(
        (v) => v.labels.reason === 'AGENT_SESSION_REQUIRED',
      )?.value ?? 0;
    const before = await count();
    // An inventory batch without the session its hello gave: the handler's own 403.
    const batch = {
      kind: 'changes',
      session: 'session-1',
      seq: 1,
      hostTime: new Date().toISOString(),
      vms: [],
      removed: [],
    };
    const answer = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-handler/inventory', {
      as: presented(identity),
      body: batch,
      headers: stampOf(identity, inc, 1, batch),
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(403);
    expect(answer.body.code).toBe('AGENT_SESSION_REQUIRED');
    expect(await count()).toBe(before + 1);
  });
});
