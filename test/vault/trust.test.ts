/**
 * The vault's gate of the agent routes over real TLS and the run's Redis: every refusal of issue 12
 * as its own test (no certificate, another CA's, expired, revoked and its connection closed, a used
 * and an expired registration key, a replayed heartbeat, another site's endpoints, a forged result),
 * and what must still work (a restarted agent, a renewal of an expired certificate).
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAgent } from '../../engine/agent/index.ts';
import { verifyAgentSignature } from '../../engine/common/index.ts';
import {
  agentHubOf,
  CONTROL_VERSION,
  type ControlPlane,
  startControlPlane,
} from '../../engine/control/index.ts';
import {
  createRegistrationKey,
  revokeSite,
  rotateVault,
  vaultFingerprint,
} from '../../engine/control/vault/index.ts';
import {
  createCa,
  exportPkcs8,
  generateKeys,
  issueClientCertificate,
  pkcs8Pem,
  x509,
} from '../../engine/control/vault/pki.ts';
import { silent } from '../engine/support.ts';
import { adminToken, bearer } from '../support/auth.ts';
import { testRedisUrl } from '../support/redis.ts';
import { useTempDirs } from '../support/temp.ts';
import {
  type Presented,
  presented,
  stampOf,
  startVaultStack,
  tlsRequest,
  type VaultStack,
} from './support.ts';

const temp = useTempDirs();
let stack: VaultStack;
let ca: readonly string[];

beforeAll(async () => {
  stack = await startVaultStack(temp);
  ca = stack.control.ca ?? [];
});
afterAll(async () => {
  await stack?.close();
});

const hello = (site: string) => ({
  site,
  agentId: `${site}-agent`,
  version: CONTROL_VERSION,
  scriptCatalog: { scripts: {} },
});
const newIncarnation = (): string => `test-${randomBytes(6).toString('hex')}`;

async function refusedCount(reason: string): Promise<number> {
  const metric = await stack.control.ctx.metrics.agentRefused.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

async function sayHello(
  as: Presented & { site: string; identity: Parameters<typeof stampOf>[0] },
  inc: string,
  seq = 0,
) {
  return tlsRequest(stack.control.url, ca, 'POST', `/api/v1/agents/${as.site}/hello`, {
    as,
    body: hello(as.site),
    headers: stampOf(as.identity, inc, seq, hello(as.site)),
  });
}

describe('when an agent registered with a key', () => {
  it('says hello over mTLS, heartbeats signed, and its clock skew shows on GET /sites', async () => {
    const identity = await stack.register('dc-east');
    const inc = newIncarnation();
    const said = await sayHello({ ...presented(identity), site: 'dc-east', identity }, inc);
    expect(said.status, JSON.stringify(said.body)).toBe(200);
    const beat = { session: said.body.session, running: [] };
    const ok = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-east/heartbeat', {
      as: presented(identity),
      body: beat,
      headers: stampOf(identity, inc, 1, beat, true),
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    // GET /sites is a people route: a token, over the same TLS server.
    const sites = await tlsRequest(stack.control.url, ca, 'GET', '/api/v1/sites', {
      headers: bearer(await adminToken(stack.control)),
    });
    const east = (sites.body.sites as { site: string; clockSkewMs?: number }[]).find(
      (s) => s.site === 'dc-east',
    );
    expect(typeof east?.clockSkewMs).toBe('number');
    expect(Math.abs(east?.clockSkewMs ?? 1e9)).toBeLessThan(2000);
  });

  it('refuses a replayed heartbeat (same incarnation and sequence number), logged and counted', async () => {
    const identity = await stack.register('dc-replay');
    const inc = newIncarnation();
    const said = await sayHello({ ...presented(identity), site: 'dc-replay', identity }, inc);
    const beat = { session: said.body.session, running: [] };
    const headers = stampOf(identity, inc, 1, beat, true);
    const first = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-replay/heartbeat', {
      as: presented(identity),
      body: beat,
      headers,
    });
    expect(first.status).toBe(200);
    const before = await refusedCount('MESSAGE_REPLAYED');
    const again = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-replay/heartbeat', {
      as: presented(identity),
      body: beat,
      headers,
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('MESSAGE_REPLAYED');
    expect(await refusedCount('MESSAGE_REPLAYED')).toBe(before + 1);
  });

  it('refuses a heartbeat whose signature is not its body', async () => {
    const identity = await stack.register('dc-sig');
    const inc = newIncarnation();
    const said = await sayHello({ ...presented(identity), site: 'dc-sig', identity }, inc);
    const beat = { session: said.body.session, running: [] };
    const headers = stampOf(identity, inc, 1, beat, true);
    const forged = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-sig/heartbeat', {
      as: presented(identity),
      body: { ...beat, running: ['someone-else'] },
      headers,
    });
    expect(forged.status).toBe(403);
    expect(forged.body.code).toBe('BAD_SIGNATURE');
  });

  it('takes a restarted agent (new incarnation) and stops the old incarnation', async () => {
    const identity = await stack.register('dc-restart');
    const as = { ...presented(identity), site: 'dc-restart', identity };
    const first = newIncarnation();
    expect((await sayHello(as, first, 0)).status).toBe(200);
    // The process restarted: a new incarnation starts again at 0.
    const second = newIncarnation();
    const again = await sayHello(as, second, 0);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const beat = { session: again.body.session, running: [] };
    const old = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-restart/heartbeat', {
      as: presented(identity),
      body: beat,
      headers: stampOf(identity, first, 5, beat, true),
    });
    expect(old.status).toBe(409);
    expect(old.body.code).toBe('AGENT_REPLACED');
    // A replay of the first incarnation's hello does not take the site back.
    const replayedHello = await sayHello(as, first, 0);
    expect(replayedHello.status).toBe(409);
  });

  it('signs heartbeats a peer could relay: verifyAgentSignature checks CA, site and body', async () => {
    const identity = await stack.register('dc-relay');
    const stamp = { site: 'dc-relay', incarnation: 'relay-incarnation', seq: 3, sentAt: Date.now() };
    const body = { session: 's', running: [] };
    const signature = stampOf(identity, stamp.incarnation, stamp.seq, body, true)['x-drorch-signature'] ?? '';
    const at = Number(stampOf(identity, stamp.incarnation, stamp.seq, body)['x-drorch-sent-at']);
    const check = (over: Partial<Parameters<typeof verifyAgentSignature>[0]>) =>
      verifyAgentSignature({
        certificate: identity.certificate,
        trusted: ca,
        stamp: { ...stamp, sentAt: at },
        body,
        signature,
        ...over,
      });
    // The signature was made over the stamp's sentAt of its own headers call: re-sign to match.
    const signed = stampOf(identity, stamp.incarnation, stamp.seq, body, true);
    const good = {
      stamp: { ...stamp, sentAt: Number(signed['x-drorch-sent-at']) },
      signature: signed['x-drorch-signature'] ?? '',
    };
    expect(check(good)).toEqual({ ok: true, site: 'dc-relay' });
    expect(check({ ...good, body: { session: 's', running: ['x'] } })).toMatchObject({
      ok: false,
      reason: 'bad-signature',
    });
    expect(check({ ...good, stamp: { ...good.stamp, site: 'dc-west' } })).toMatchObject({
      ok: false,
      reason: 'wrong-site',
    });
    const other = await createCa('someone else');
    expect(check({ ...good, trusted: [other.certificate.toString('pem')] })).toMatchObject({
      ok: false,
      reason: 'untrusted',
    });
  });
});

describe('when a request comes without a valid certificate', () => {
  it('refuses an agent route without a client certificate (401), counted', async () => {
    const before = await refusedCount('CLIENT_CERT_REQUIRED');
    const answer = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-east/hello', {
      body: hello('dc-east'),
    });
    expect(answer.status).toBe(401);
    expect(answer.body.code).toBe('CLIENT_CERT_REQUIRED');
    expect(await refusedCount('CLIENT_CERT_REQUIRED')).toBe(before + 1);
    const metrics = await tlsRequest(stack.control.url, ca, 'GET', '/metrics');
    expect(String(metrics.body.text)).toMatch(
      /drorch_agent_refused_total\{reason="CLIENT_CERT_REQUIRED"\} [1-9]/,
    );
  });

  it("refuses another CA's certificate for the right site (401)", async () => {
    const other = await createCa('another vault');
    const keys = await generateKeys();
    const publicKey = await x509.PublicKey.create(keys.publicKey);
    const cert = await issueClientCertificate(other, 'dc-east', publicKey, 3_600_000);
    const as = { cert: cert.toString('pem'), key: pkcs8Pem(await exportPkcs8(keys.privateKey)) };
    const answer = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-east/hello', {
      as,
      body: hello('dc-east'),
    });
    expect(answer.status).toBe(401);
    expect(answer.body.code).toBe('CLIENT_CERT_UNTRUSTED');
    expect(String(answer.body.detail)).toContain('not issued by this vault');
  });

  it('refuses an expired certificate (401) and still renews it with its key', async () => {
    // A second control plane on the same vault, whose agent certificates live 1 s.
    const short: ControlPlane = await startControlPlane({
      redisUrl: testRedisUrl(),
      prefix: stack.prefix,
      port: 0,
      logger: silent,
      vault: { dir: stack.vaultDir, clientLifetimeMs: 1000 },
    });
    try {
      const fingerprint = await vaultFingerprint(stack.redis, stack.prefix);
      const { key } = await createRegistrationKey(stack.redis, stack.prefix, 'dc-expired', fingerprint);
      const identity = await registerAgent({
        server: short.url,
        site: 'dc-expired',
        key,
        dir: temp('drorch-expired-'),
      });
      await new Promise((r) => setTimeout(r, 1300));
      const inc = newIncarnation();
      const answer = await sayHello({ ...presented(identity), site: 'dc-expired', identity }, inc);
      expect(answer.status).toBe(401);
      expect(answer.body.code).toBe('CLIENT_CERT_EXPIRED');
      const { renewIdentity } = await import('../../engine/agent/index.ts');
      const renewed = await renewIdentity(identity, async (path, body) => {
        const reply = await tlsRequest(stack.control.url, ca, 'POST', path, {
          as: presented(identity),
          body,
          headers: stampOf(identity, inc, 1, body),
        });
        if (reply.status !== 200) throw new Error(JSON.stringify(reply.body));
        return reply.body;
      });
      expect(renewed.notAfter).toBeGreaterThan(Date.now() + 3_600_000);
      const back = await sayHello(
        { ...presented(renewed), site: 'dc-expired', identity: renewed },
        newIncarnation(),
      );
      expect(back.status, JSON.stringify(back.body)).toBe(200);
    } finally {
      await short.close(2000);
    }
  });

  it('refuses a revoked certificate (403) and closes its open connection within 1 s', async () => {
    const identity = await stack.register('dc-revoked');
    const agent = new https.Agent({ keepAlive: true });
    const inc = newIncarnation();
    const said = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-revoked/hello', {
      as: presented(identity),
      body: hello('dc-revoked'),
      headers: stampOf(identity, inc, 0, hello('dc-revoked')),
      agent: new https.Agent({
        keepAlive: true,
        ca: [...ca],
        cert: identity.certificate,
        key: identity.keyPem,
      }),
    });
    expect(said.status).toBe(200);
    const socket = said.socket;
    expect(socket.destroyed).toBe(false);
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    const revokedAt = Date.now();
    await revokeSite(stack.redis, stack.prefix, 'dc-revoked');
    const at = await Promise.race([
      closed,
      new Promise<number>((r) => setTimeout(() => r(Number.NaN), 1500)),
    ]);
    expect(at - revokedAt).toBeLessThan(1000);
    const answer = await sayHello({ ...presented(identity), site: 'dc-revoked', identity }, inc, 1);
    expect(answer.status).toBe(403);
    expect(answer.body.code).toBe('CLIENT_CERT_REVOKED');
    agent.destroy();
  });
});

describe('when a registration key is traded', () => {
  it('refuses a key used once already', async () => {
    const fingerprint = await vaultFingerprint(stack.redis, stack.prefix);
    const { key } = await createRegistrationKey(stack.redis, stack.prefix, 'dc-once', fingerprint);
    await registerAgent({ server: stack.control.url, site: 'dc-once', key, dir: temp('drorch-once-') });
    const again = registerAgent({
      server: stack.control.url,
      site: 'dc-once',
      key,
      dir: temp('drorch-twice-'),
    });
    await expect(again).rejects.toMatchObject({ code: 'REGISTRATION_KEY_USED' });
  });

  it('refuses an expired key', async () => {
    const fingerprint = await vaultFingerprint(stack.redis, stack.prefix);
    const { key } = await createRegistrationKey(stack.redis, stack.prefix, 'dc-late', fingerprint, 1000);
    await new Promise((r) => setTimeout(r, 1100));
    const late = registerAgent({
      server: stack.control.url,
      site: 'dc-late',
      key,
      dir: temp('drorch-late-'),
    });
    await expect(late).rejects.toMatchObject({ code: 'REGISTRATION_KEY_EXPIRED' });
  });

  it("refuses a key for another site, and a key whose CA fingerprint is not the server's", async () => {
    const fingerprint = await vaultFingerprint(stack.redis, stack.prefix);
    const { key } = await createRegistrationKey(stack.redis, stack.prefix, 'dc-a', fingerprint);
    await expect(
      registerAgent({ server: stack.control.url, site: 'dc-b', key, dir: temp('drorch-b-') }),
    ).rejects.toMatchObject({
      code: 'REGISTRATION_KEY_OTHER_SITE',
    });
    const pinnedElsewhere = `${key.split('.').slice(0, 3).join('.')}.${'A'.repeat(43)}`;
    await expect(
      registerAgent({
        server: stack.control.url,
        site: 'dc-a',
        key: pinnedElsewhere,
        dir: temp('drorch-pin-'),
      }),
    ).rejects.toMatchObject({
      code: 'VAULT_CA_MISMATCH',
    });
  });
});

describe("when dc-east's agent works outside its site", () => {
  it("answers 403 on dc-west's endpoints, logged and counted", async () => {
    const east = await stack.register('dc-east2');
    const before = await refusedCount('SITE_FORBIDDEN');
    for (const [method, path] of [
      ['POST', '/api/v1/agents/dc-west/hello'],
      ['POST', '/api/v1/agents/dc-west/units:poll'],
      ['POST', '/api/v1/agents/dc-west/results'],
      ['POST', '/api/v1/agents/dc-west/inventory'],
      ['GET', '/api/v1/agents/dc-west/inventory/refresh'],
    ] as const) {
      const answer = await tlsRequest(stack.control.url, ca, method, path, {
        as: presented(east),
        ...(method === 'POST' ? { body: {} } : {}),
        headers: stampOf(east, newIncarnation(), 0, {}),
      });
      expect(answer.status, path).toBe(403);
      expect(answer.body.code).toBe('SITE_FORBIDDEN');
    }
    expect(await refusedCount('SITE_FORBIDDEN')).toBe(before + 5);
  });

  it("changes nothing with a result forged for a dc-west unit's VM", async () => {
    const east = await stack.register('dc-forge');
    const hub = agentHubOf(stack.control.ctx);
    const unit = {
      id: 'exec-forge.web-01.failover',
      data: {
        execution: 'exec-forge',
        steps: ['web-01.failover'],
        vm: 'web-01',
        site: 'dc-west',
        attempt: 1,
      },
      late: false,
      lateFailedOver: false,
      sightings: {},
    };
    await hub.handing.hand('dc-west', [{ unit, json: JSON.stringify(unit) }]);
    const inc = newIncarnation();
    const said = await sayHello({ ...presented(east), site: 'dc-forge', identity: east }, inc);
    const now = new Date().toISOString();
    const report = {
      unit: unit.id,
      execution: 'exec-forge',
      vm: 'web-01',
      result: { v: 1, steps: [{ id: 'web-01.failover', outcome: 'done', startedAt: now, endedAt: now }] },
      events: [],
      sightings: [],
    };
    const body = { session: said.body.session, results: [report] };
    const own = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-forge/results', {
      as: presented(east),
      body,
      headers: stampOf(east, inc, 1, body),
    });
    expect(own.status, JSON.stringify(own.body)).toBe(404);
    expect(own.body.code).toBe('UNKNOWN_UNIT');
    const west = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-west/results', {
      as: presented(east),
      body,
      headers: stampOf(east, inc, 2, body),
    });
    expect(west.status).toBe(403);
    const [entry] = await hub.handing.read('dc-west', [unit.id]);
    expect(entry?.report).toBeUndefined();
    expect(entry?.session).toBe('');
  });
});

describe('when the CA is rotated while the control plane runs', () => {
  it('trusts the old CA and issues from the new one at once, without a restart', async () => {
    const before = await stack.register('dc-rot-old');
    const rotated = await rotateVault({ redis: stack.redis, prefix: stack.prefix, dir: stack.vaultDir });
    // The control plane reopens the vault on the rotation's message.
    const deadline = Date.now() + 3000;
    while (stack.control.ctx.trust?.vault.caFingerprint !== rotated.caFingerprint && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(stack.control.ctx.trust?.vault.caFingerprint).toBe(rotated.caFingerprint);
    // An agent that trusts only the old CA still reaches the control plane (cross certificate),
    // and its old-CA certificate is still taken.
    const said = await tlsRequest(stack.control.url, before.ca, 'POST', '/api/v1/agents/dc-rot-old/hello', {
      as: presented(before),
      body: hello('dc-rot-old'),
      headers: stampOf(before, newIncarnation(), 0, hello('dc-rot-old')),
    });
    expect(said.status, JSON.stringify(said.body)).toBe(200);
    const after = await stack.register('dc-rot-new');
    const oldCa = new X509Certificate(before.ca[0] ?? '');
    expect(new X509Certificate(after.certificate).checkIssued(oldCa)).toBe(false);
    expect(after.ca.length).toBeGreaterThan(before.ca.length);
  });
});
