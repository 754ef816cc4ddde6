/**
 * The vault end to end in real processes: `drctl vault init`, `drctl serve --vault-dir` (HTTPS,
 * mTLS), `drctl site register`, `drctl agent --register` (its own key, 0600), renewal at half its
 * life, `drctl site revoke` (the agent's connections cut, its requests refused), and the CA's
 * backup, restore and rotation with a registered agent still working across them.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vaultKeys } from '../../engine/control/vault/index.ts';
import { type DrctlProcess, drctl, startDrctl } from '../cli/support.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { useTempDirs } from '../support/temp.ts';
import { tlsRequest } from './support.ts';

const temp = useTempDirs();
const prefix = uniquePrefix('vaultcli');
const env = { REDIS_URL: testRedisUrl() };
const children: DrctlProcess[] = [];
let vaultDir: string;
let stateDir: string;
let simUrl: string;
let redis: Redis;
let adminToken: string;

function json(text: string): Record<string, unknown> {
  const line = text.split('\n').find((l) => l.startsWith('{'));
  return JSON.parse(line ?? '{}') as Record<string, unknown>;
}

async function serve(
  port = 0,
  lifetime = '4s',
  extra: string[] = [],
): Promise<{ process: DrctlProcess; url: string; ca: string[] }> {
  const child = startDrctl(
    [
      'serve',
      '--port',
      String(port),
      '--prefix',
      prefix,
      '--vault-dir',
      vaultDir,
      '--agent-cert-lifetime',
      lifetime,
      ...extra,
      '--json',
    ],
    { env },
  );
  children.push(child);
  await child.waitFor('\n');
  const line = json(child.stdout());
  if (typeof line.api !== 'string')
    throw new Error(`drctl serve did not start:\n${child.stdout()}${child.stderr()}`);
  return { process: child, url: line.api, ca: [readFileSync(join(vaultDir, 'ca.pem'), 'utf8')] };
}

async function stop(child: DrctlProcess): Promise<void> {
  child.child.kill('SIGTERM');
  await child.done;
}

async function siteLive(
  url: string,
  ca: string[],
  site: string,
): Promise<{ live: boolean; clockSkewMs?: number } | undefined> {
  // The people's routes take the first admin token `vault init` printed.
  const answer = await tlsRequest(url, ca, 'GET', '/api/v1/sites', {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  if (answer.status !== 200) throw new Error(`GET /api/v1/sites answered ${answer.status}`);
  return (answer.body.sites as { site: string; live: boolean; clockSkewMs?: number }[] | undefined)?.find(
    (s) => s.site === site,
  );
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms${trail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The agent's last log lines, for a failure's message. */
let trail = (): string => '';

beforeAll(async () => {
  vaultDir = temp('drorch-vault-cli-');
  stateDir = temp('drorch-agent-cli-');
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
  const sim = startDrctl(['sim', 'serve', '--for-plan', 'plans/examples/three-tier.yaml', '--json'], {
    env: {},
  });
  children.push(sim);
  await sim.waitFor('\n');
  simUrl = String(json(sim.stdout()).url);
});

afterAll(async () => {
  await Promise.all(children.map((c) => (c.child.exitCode === null ? stop(c) : undefined)));
  redis?.disconnect();
});

describe('drctl vault and drctl site, with real processes', { timeout: 120_000 }, () => {
  let control: Awaited<ReturnType<typeof serve>>;
  let agent: DrctlProcess;

  it('vault init creates the CA with its key file 0600 and refuses a second init', async () => {
    const init = await drctl(['vault', 'init', '--prefix', prefix, '--vault-dir', vaultDir, '--json'], {
      env,
    });
    expect(init.code, init.stderr).toBe(0);
    const out = json(init.stdout);
    expect(out.caFingerprint).toMatch(/^[\w-]{43}$/);
    expect(statSync(String(out.keyFile)).mode & 0o777).toBe(0o600);
    // The first admin token, shown once: an admin's, stored only as its digest.
    expect(out.adminToken).toMatch(/^drt_/);
    adminToken = String(out.adminToken);
    const tokens = await redis.keys(`${prefix}:auth:token:*`);
    expect(tokens).toHaveLength(1);
    expect(JSON.stringify(await redis.hgetall(String(tokens[0])))).not.toContain(adminToken.split('_')[2]);
    // The CA key is sealed in Redis: no PEM private key there.
    const record = String(await redis.get(vaultKeys(prefix).ca));
    expect(record).not.toContain('PRIVATE KEY');
    const again = await drctl(['vault', 'init', '--prefix', prefix, '--vault-dir', vaultDir], { env });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('a vault exists already');
  });

  it('registers an agent with a key from site register, end to end', async () => {
    control = await serve();
    const register = await drctl(
      [
        'site',
        'register',
        'dc-east',
        '--expires',
        '60s',
        '--prefix',
        prefix,
        '--vault-dir',
        vaultDir,
        '--json',
      ],
      { env },
    );
    expect(register.code, register.stderr).toBe(0);
    const { key, expiresAt } = json(register.stdout) as { key: string; expiresAt: string };
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
    agent = startDrctl(
      [
        'agent',
        '--site',
        'dc-east',
        '--hosts',
        simUrl,
        '--server',
        control.url,
        '--register',
        key,
        '--state-dir',
        stateDir,
        '--fence-sweep-ms',
        '0',
        '--json',
      ],
      { env: { REDIS_URL: '', LOG_LEVEL: 'warn' } },
    );
    children.push(agent);
    trail = () => `\nagent: ${(agent.stdout() + agent.stderr()).slice(-1500)}`;
    await agent.waitFor('"ready":true');
    expect(statSync(join(stateDir, 'dc-east', 'agent.key')).mode & 0o777).toBe(0o600);
    const site = await until('the site live', 5000, async () => {
      const s = await siteLive(control.url, control.ca, 'dc-east');
      return s?.live && s.clockSkewMs !== undefined ? s : undefined;
    });
    expect(Math.abs(site.clockSkewMs ?? 1e9)).toBeLessThan(2000);
    // The key was used: a second agent cannot register with it.
    const reused = await drctl(
      [
        'agent',
        '--site',
        'dc-east',
        '--hosts',
        simUrl,
        '--server',
        control.url,
        '--register',
        key,
        '--state-dir',
        temp('drorch-reuse-'),
      ],
      { env: { REDIS_URL: '' } },
    );
    expect(reused.code).toBe(2);
    expect(reused.stderr).toContain('was already used');
  });

  it('the CLI reaches the HTTPS control plane by the vault CA (--ca, DR_CA_FILE), and refuses another', async () => {
    const caFile = join(vaultDir, 'ca.pem');
    const bare = {
      ...env,
      REDIS_URL: '',
      DR_TOKEN: adminToken,
      DR_VAULT_DIR: '',
      XDG_STATE_HOME: temp('drorch-xdg-'),
    };
    const byFlag = await drctl(['token', 'list', '--server', control.url, '--ca', caFile, '--json'], {
      env: bare,
    });
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect(byFlag.stdout).toContain('"owner":"admin"');
    const byEnv = await drctl(['token', 'list', '--server', control.url, '--json'], {
      env: { ...bare, DR_CA_FILE: caFile },
    });
    expect(byEnv.code, byEnv.stderr).toBe(0);
    // The vault folder's ca.pem is the last default.
    const byVault = await drctl(['token', 'list', '--server', control.url, '--json'], {
      env: { ...bare, DR_VAULT_DIR: vaultDir },
    });
    expect(byVault.code, byVault.stderr).toBe(0);
    // No CA given and none found: the system's CAs do not trust the vault's; never unchecked.
    const none = await drctl(['token', 'list', '--server', control.url], { env: bare });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('not signed by a CA this client trusts');
    expect(none.stderr).toContain('--ca <file> or DR_CA_FILE');
    const missing = await drctl(
      ['token', 'list', '--server', control.url, '--ca', join(vaultDir, 'nope.pem')],
      {
        env: bare,
      },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read the CA file');
    const notPem = await drctl(
      ['token', 'list', '--server', control.url, '--ca', join(vaultDir, 'vault.key')],
      {
        env: bare,
      },
    );
    expect(notPem.code).toBe(2);
    expect(notPem.stderr).toContain('holds no PEM certificate');
  });

  it('renews its certificate before half its life (4 s certificates)', async () => {
    const first = new X509Certificate(readFileSync(join(stateDir, 'dc-east', 'agent.crt')));
    const renewed = await until('a renewal', 6000, async () => {
      const now = new X509Certificate(readFileSync(join(stateDir, 'dc-east', 'agent.crt')));
      return now.serialNumber !== first.serialNumber ? now : undefined;
    });
    expect(Date.parse(renewed.validTo)).toBeGreaterThan(Date.parse(first.validTo));
    expect((await siteLive(control.url, control.ca, 'dc-east'))?.live).toBe(true);
  });

  it('keeps the agent working across a backup, a restore and a CA rotation', async () => {
    const file = join(temp('drorch-backup-'), 'vault.json');
    const backup = await drctl(['vault', 'backup', '--out', file, '--prefix', prefix, '--json'], { env });
    expect(backup.code, backup.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain('PRIVATE KEY');
    // The record lost, then restored from the backup and the key file.
    await redis.del(vaultKeys(prefix).ca);
    const restore = await drctl(
      ['vault', 'restore', '--from', file, '--prefix', prefix, '--vault-dir', vaultDir],
      { env },
    );
    expect(restore.code, restore.stderr).toBe(0);
    const oldCa = new X509Certificate(readFileSync(join(vaultDir, 'ca.pem')));
    const rotate = await drctl(['vault', 'rotate', '--prefix', prefix, '--vault-dir', vaultDir, '--json'], {
      env,
    });
    expect(rotate.code, rotate.stderr).toBe(0);
    await stop(control.process);
    // The same address: the agent knows only that one.
    control = await serve(Number(new URL(control.url).port));
    // The agent trusted only the old CA: the cross certificate carries it to the new one, and its
    // next renewal comes from the new CA.
    const fromNewCa = await until('a certificate of the new CA', 10_000, async () => {
      const cert = new X509Certificate(readFileSync(join(stateDir, 'dc-east', 'agent.crt')));
      return cert.checkIssued(oldCa) ? undefined : cert;
    });
    expect(fromNewCa.issuer).not.toBe(oldCa.subject);
    await until('the site live after rotation', 6000, async () =>
      (await siteLive(control.url, control.ca, 'dc-east'))?.live ? true : undefined,
    );
  });

  it('site revoke ends the agent: its requests are refused at once', async () => {
    const revoke = await drctl(
      ['site', 'revoke', 'dc-east', '--prefix', prefix, '--vault-dir', vaultDir, '--json'],
      {
        env,
      },
    );
    expect(revoke.code, revoke.stderr).toBe(0);
    expect((json(revoke.stdout).revoked as string[]).length).toBeGreaterThan(0);
    // Its next heartbeat (a second) is refused: the agent's log says why.
    await until('a refused heartbeat', 5000, async () =>
      /was revoked/.test(agent.stdout() + agent.stderr()) ? true : undefined,
    );
  });

  it('serve --tls-name adds the names clients reach it by (a service name) to its certificate', async () => {
    const named = await serve(0, '4s', ['--tls-name', 'control.drorch.test', '--tls-name', 'control']);
    const answer = await tlsRequest(named.url, named.ca, 'GET', '/healthz');
    expect(answer.status).toBe(200);
    const names = answer.socket.getPeerCertificate().subjectaltname ?? '';
    for (const name of ['DNS:control.drorch.test', 'DNS:control', 'DNS:localhost', 'IP Address:127.0.0.1'])
      expect(names).toContain(name);
    await stop(named.process);
  });
});
