/** What the control plane's routes work with, and the app type they are given. */
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Logger } from '../common/index.ts';
import type { HyperVReadApi } from '../preflight/index.ts';
import type { AuditLog, AuditSigner } from './audit/index.ts';
import type { TokenStreams } from './auth/index.ts';
import type { Automation } from './auto/index.ts';
import type { HistoryStore } from './history/index.ts';
import type { ControlMetrics } from './metrics.ts';
import type { Notifications } from './notify/index.ts';
import type { AgentTrust } from './vault/index.ts';

export const API_PREFIX = '/api/v1';

/** The version of the control plane's API and of the engine, as agents and clients see it. */
export const CONTROL_VERSION = '0.1.0';

/** What every route works with. */
export interface ControlContext {
  /** The vault's Redis (a shared connection, auto-pipelined). */
  redis: Redis;
  redisUrl: string;
  prefix: string;
  log: Logger;
  metrics: ControlMetrics;
  /**
   * What the vault knows of the sites' hosts, as the read-only host API pre-flight reads (built
   * from the agents' inventory, refreshed through them when older than a replication cycle).
   * Absent until an inventory is wired in: then pre-flight refuses (NO_INVENTORY).
   */
  inventory?: HyperVReadApi;
  /** Per-VM RPO and health in 5-minute buckets (history/); absent: `/history` answers 503. */
  history?: HistoryStore;
  /** Webhook notifications (notify/): absent, `/notifications/:id/test` answers 503. */
  notifications?: Notifications;
  /**
   * The vault's gate of the agent routes (mTLS, site, replay: vault/guard.ts). Absent: the app
   * serves plain HTTP with agent routes unguarded (only a bare app of a unit test).
   */
  trust?: AgentTrust;
  /**
   * The audit log (audit/): every mutating or refused call, and the engine's own decisions.
   * @defaultValue the vault's, under `prefix` (buildControlApp sets it when absent)
   */
  audit?: AuditLog;
  /** What signs the audit log's head. @defaultValue the vault's audit key (audit/signer.ts) */
  auditSigner?: AuditSigner;
  /** Streams that end with their token (auth/streams.ts). @defaultValue buildControlApp's */
  tokenStreams?: TokenStreams;
  /** Automatic failover (auto/): arming, veto, drill; absent: `/auto` answers 503. */
  automation?: Automation;
  /** Checks behind `/readyz`: each says whether its part can serve now. */
  readiness: Record<string, () => Promise<boolean>>;
}

export type ControlApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** A group of routes: called once with the app (already under `/api/v1` unless it says otherwise). */
export type ControlRoutes = (app: ControlApp, ctx: ControlContext) => void | Promise<void>;
