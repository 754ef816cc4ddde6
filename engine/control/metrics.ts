/**
 * The control plane's Prometheus metrics (prom-client), served at `/metrics`. One registry per
 * control plane (tests run several in one process), with Node's default metrics.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface ControlMetrics {
  readonly registry: Registry;
  /** Requests refused (4xx), by route and error code: a bad agent message is counted here. */
  readonly refused: Counter<'route' | 'code'>;
  /** Agent requests refused by the vault's gate (certificate, site, replay), by reason. */
  readonly agentRefused: Counter<'reason'>;
  /** Calls refused by the token gate (401/403), by route and code (auth/hook.ts). */
  readonly authRefused: Counter<'route' | 'code'>;
  /** Request durations by route and status class. */
  readonly requests: Histogram<'route' | 'method' | 'status'>;
  /** Webhook delivery attempts by outcome: delivered, retried, given-up (notify/). */
  readonly notifications: Counter<'outcome'>;
}

export function createControlMetrics(): ControlMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'drorch_' });
  const refused = new Counter({
    name: 'drorch_requests_refused_total',
    help: 'Requests refused with a 4xx, by route and error code',
    labelNames: ['route', 'code'] as const,
    registers: [registry],
  });
  const authRefused = new Counter({
    name: 'drorch_auth_refused_total',
    help: 'People-route calls refused for their token: 401 (none, unknown, expired, revoked) or 403 (role, scope)',
    labelNames: ['route', 'code'] as const,
    registers: [registry],
  });
  const requests = new Histogram({
    name: 'drorch_request_duration_seconds',
    help: 'HTTP request durations, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
  const notifications = new Counter({
    name: 'drorch_notifications_total',
    help: 'Webhook delivery attempts, by outcome (delivered, retried, given-up)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const agentRefused = new Counter({
    name: 'drorch_agent_refused_total',
    help: "Agent requests refused by the vault's gate (no, untrusted, expired or revoked certificate, another site, replayed or stale message), by reason",
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  return { registry, refused, agentRefused, authRefused, requests, notifications };
}
