/** The notifications' pure parts: retry schedule, ids, the site and auto-failover producers' events, signatures. */
import { describe, expect, it } from 'vitest';
import { payloadOf } from '../../engine/control/notify/events.ts';
import {
  attemptsOf,
  autoFailoverNotification,
  DEFAULT_RETRY,
  NotificationPayloadSchema,
  NotificationTypeSchema,
  notificationId,
  retryDelayAfter,
  signDelivery,
  siteNotification,
  verifyDelivery,
  webhookUrlProblem,
} from '../../engine/control/notify/index.ts';

describe('the retry schedule', () => {
  it('waits 1 s doubling up to 5 min, and gives up after about 24 h', () => {
    expect([1, 2, 3, 8, 9, 10, 50].map((n) => retryDelayAfter(DEFAULT_RETRY, n))).toEqual([
      1_000, 2_000, 4_000, 128_000, 256_000, 300_000, 300_000,
    ]);
    const attempts = attemptsOf(DEFAULT_RETRY);
    let total = 0;
    for (let n = 1; n < attempts; n++) total += retryDelayAfter(DEFAULT_RETRY, n);
    expect(total).toBeLessThanOrEqual(86_400_000);
    expect(total + 300_000).toBeGreaterThan(86_400_000);
    expect(attempts).toBe(296);
  });
});

describe('notification ids', () => {
  it('are the same for the same occurrence and differ by type and occurrence, with no colon', () => {
    const id = notificationId('site.lost', 'dc-east/7');
    expect(id).toBe(notificationId('site.lost', 'dc-east/7'));
    expect(id).not.toBe(notificationId('site.lost', 'dc-east/8'));
    expect(id).not.toBe(notificationId('site.suspect', 'dc-east/7'));
    expect(id).toMatch(/^n-[0-9a-f]{32}$/);
  });
});

describe('the site monitor and automatic failover producers', () => {
  it('name the transition, so a leader raising it again gives the same notification', () => {
    const lost = siteNotification({
      site: 'dc-east',
      verdict: 'lost',
      transition: 7,
      details: { missed: 6 },
    });
    expect(lost).toMatchObject({
      type: 'site.lost',
      occurrence: 'dc-east/7',
      subject: { site: 'dc-east' },
      details: { missed: 6 },
    });
    expect(lost.summary).toContain('site dc-east is lost');
    const again = payloadOf(siteNotification({ site: 'dc-east', verdict: 'lost', transition: 7 }));
    expect(again.id).toBe(payloadOf(lost).id);
    expect(NotificationPayloadSchema.parse(payloadOf(lost))).toMatchObject({ type: 'site.lost' });
  });

  it('say why an automatic failover was refused', () => {
    const refused = autoFailoverNotification({
      plan: 'erp',
      stage: 'refused',
      occurrence: 'loss-3',
      site: 'dc-east',
      reason: 'data-loss window 12m beyond maxDataLoss 5m',
    });
    expect(refused).toMatchObject({
      type: 'auto-failover.refused',
      subject: { plan: 'erp', site: 'dc-east' },
      details: { reason: 'data-loss window 12m beyond maxDataLoss 5m' },
    });
    expect(refused.summary).toBe(
      'automatic failover of erp refused: data-loss window 12m beyond maxDataLoss 5m; a person must decide',
    );
  });

  it('refuses an unknown event type', () => {
    expect(NotificationTypeSchema.safeParse('site.exploded').success).toBe(false);
    expect(NotificationTypeSchema.options).toHaveLength(14);
  });
});

describe('webhook URLs and signatures', () => {
  it('accept http(s) only, without credentials', () => {
    expect(webhookUrlProblem('https://hooks.example.com/dr')).toBeUndefined();
    expect(webhookUrlProblem('ftp://x/y')).toContain('is a ftp URL');
    expect(webhookUrlProblem('https://u:p@hooks.example.com/')).toContain('credentials');
    expect(webhookUrlProblem('hooks.example.com')).toContain('is not a URL');
  });

  it('sign the timestamp with the body', () => {
    const body = '{"id":"n-1"}';
    const at = 1_800_000_000;
    const signature = signDelivery('0123456789abcdef', at, body);
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    const ok = verifyDelivery(
      '0123456789abcdef',
      body,
      { signature, timestamp: String(at) },
      { nowMs: at * 1000 },
    );
    expect(ok).toEqual({ ok: true });
    // The same signature with a fresher timestamp: a replay, refused.
    expect(
      verifyDelivery(
        '0123456789abcdef',
        body,
        { signature, timestamp: String(at + 600) },
        { nowMs: (at + 600) * 1000 },
      ),
    ).toEqual({ ok: false, reason: 'signature does not match' });
    expect(verifyDelivery('0123456789abcdef', body, { signature, timestamp: undefined }).ok).toBe(false);
  });
});
