/**
 * `/api/v1/notifications` and `drctl notify` on a real control plane (real Redis, the CLI as a
 * process): subscriptions added, listed without their secret, tested and removed; bad URLs and
 * unknown event types refused with their place.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, controlRoutes, startControlPlane } from '../../engine/control/index.ts';
import { verifyDelivery } from '../../engine/control/notify/index.ts';
import { silent } from '../engine/support.ts';
import { adminToken, bearer } from '../support/auth.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { type Receiver, startReceiver, until } from './notify-support.ts';

// biome-ignore lint/suspicious/noExplicitAny: the tests read JSON answers field by field
type Json = any;

describe('notification subscriptions through the API and drctl', { timeout: 120_000 }, () => {
  let control: ControlPlane;
  let receiver: Receiver;
  let dir: string;
  let token: string;
  /** fetch with the admin token (the notification routes are an admin's). */
  const api = (url: string, init: RequestInit = {}): Promise<Response> =>
    fetch(url, { ...init, headers: { ...bearer(token), ...(init.headers as Record<string, string>) } });
  const post = async (body: unknown): Promise<{ status: number; type: string | null; json: Json }> => {
    const response = await api(`${control.url}/api/v1/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(token) },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      json: await response.json(),
    };
  };
  const drctl = (args: string[]): Promise<{ code: number | null; out: string; err: string }> => {
    const { REDIS_URL: _redis, DR_SERVER: _server, ...rest } = process.env;
    const child = spawn(process.execPath, ['bin/drctl.js', ...args], {
      env: { ...rest, LOG_LEVEL: 'silent', DR_SERVER: control.url, DR_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    dir = mkdtempSync(join(tmpdir(), 'drorch-notify-api-'));
    control = await startControlPlane({
      redisUrl: testRedisUrl(),
      prefix: uniquePrefix('notify-api'),
      port: 0,
      routes: controlRoutes,
      logger: silent,
    });
    token = await adminToken(control, 'tester');
  }, 60_000);
  afterAll(async () => {
    await control?.close(5000);
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a URL that is not http(s), naming the field', async () => {
    const refused = await post({ url: 'ftp://files.example.com/hook' });
    expect(refused.status).toBe(400);
    expect(refused.type).toContain('application/problem+json');
    expect(refused.json.code).toBe('BAD_REQUEST');
    expect(refused.json.issues).toEqual([
      {
        path: 'body.url',
        message: expect.stringContaining('is a ftp URL; webhooks are sent over http:// or https://'),
      },
    ]);
    expect((await post({ url: 'not a url' })).json.issues[0].message).toContain('is not a URL');
  });

  it('refuses an unknown event type and a short secret', async () => {
    const unknown = await post({ url: receiver.url, events: ['site.exploded'] });
    expect(unknown.status).toBe(400);
    expect(unknown.json.issues[0].path).toBe('body.events.0');
    const weak = await post({ url: receiver.url, secret: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.json.issues[0].path).toBe('body.secret');
  });

  it('adds a subscription, lists it without its secret, sends it a test and removes it', async () => {
    const added = await post({ url: receiver.url, events: ['site.lost', 'step.failed'] });
    expect(added.status).toBe(201);
    const { subscription, secret } = added.json;
    expect(subscription).toMatchObject({
      url: receiver.url,
      events: ['site.lost', 'step.failed'],
      by: 'tester',
    });
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const listed: Json = await (await api(`${control.url}/api/v1/notifications`)).json();
    expect(listed.subscriptions).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(secret);
    expect(listed.queueDepth).toBe(0);

    const test = await api(`${control.url}/api/v1/notifications/${subscription.id}/test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(test.status).toBe(202);
    const [got] = await receiver.waitFor(1);
    expect(JSON.parse(got?.body ?? '{}')).toMatchObject({ type: 'notification.test' });
    expect(got?.headers['x-dr-event']).toBe('notification.test');
    expect(
      verifyDelivery(secret, got?.body ?? '', {
        signature: got?.headers['x-dr-signature'] as string,
        timestamp: got?.headers['x-dr-timestamp'] as string,
      }),
    ).toEqual({ ok: true });
    await until(async () => {
      const view: Json = await (await api(`${control.url}/api/v1/notifications`)).json();
      return view.subscriptions[0].status.delivered === 1;
    });

    const removed = await api(`${control.url}/api/v1/notifications/${subscription.id}`, {
      method: 'DELETE',
    });
    expect(await removed.json()).toEqual({ removed: subscription.id });
    const again = await api(`${control.url}/api/v1/notifications/${subscription.id}`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(((await again.json()) as Json).code).toBe('NOTIFY_SUBSCRIPTION_NOT_FOUND');
    const missing = await api(`${control.url}/api/v1/notifications/${subscription.id}/test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(missing.status).toBe(404);
  });

  it('documents the routes and the event types in /openapi.json', async () => {
    const doc: Json = await (await fetch(`${control.url}/openapi.json`)).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/notifications',
        '/api/v1/notifications/{id}',
        '/api/v1/notifications/{id}/test',
      ]),
    );
    expect(doc.components.schemas.NotificationType.enum).toContain('auto-failover.refused');
  });

  it('drctl notify adds with a secret file, lists, tests and removes', async () => {
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, 'a-secret-from-a-file-0123456789\n');
    const added = await drctl([
      'notify',
      'add',
      '--url',
      receiver.url,
      '--event',
      'drill.overdue',
      '--secret-file',
      secretFile,
      '--json',
    ]);
    expect(added.code).toBe(0);
    const { subscription, secret } = JSON.parse(added.out);
    expect(secret).toBe('a-secret-from-a-file-0123456789');
    const listed = await drctl(['notify', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(`${subscription.id}  ${receiver.url}  [drill.overdue]`);
    expect(listed.out).toContain('no delivery yet; delivered 0, failed attempts 0, given up 0, pending 0');
    expect(listed.out).toContain('queue depth: 0');
    const before = receiver.received.length;
    const tested = await drctl(['notify', 'test', subscription.id]);
    expect(tested.code).toBe(0);
    await receiver.waitFor(before + 1);
    await until(async () => {
      const view: Json = await (await api(`${control.url}/api/v1/notifications`)).json();
      return view.subscriptions[0].status.delivered === 1;
    });
    const shown = await drctl(['notify', 'list']);
    expect(shown.out).toMatch(
      /last delivered .* \(notification\.test, attempt 1: .* answered 200\); delivered 1/,
    );
    const removed = await drctl(['notify', 'remove', subscription.id]);
    expect(removed).toMatchObject({ code: 0, out: `removed ${subscription.id}\n` });
    const gone = await drctl(['notify', 'remove', subscription.id]);
    expect(gone.code).toBe(2);
    expect(gone.err).toContain(`no subscription '${subscription.id}'`);
  });

  it('drctl notify add refuses a bad URL, an unknown event and a missing secret file (exit 2)', async () => {
    const url = await drctl(['notify', 'add', '--url', 'file:///etc/passwd']);
    expect(url.code).toBe(2);
    expect(url.err).toContain(
      "--url: 'file:///etc/passwd' is a file URL; webhooks are sent over http:// or https:// only",
    );
    const event = await drctl(['notify', 'add', '--url', receiver.url, '--event', 'site.exploded']);
    expect(event.code).toBe(2);
    expect(event.err).toContain('--event site.exploded: not an event type; one of site.suspect');
    const file = await drctl(['notify', 'add', '--url', receiver.url, '--secret-file', join(dir, 'none')]);
    expect(file.code).toBe(2);
    expect(file.err).toContain('ENOENT');
  });
});
