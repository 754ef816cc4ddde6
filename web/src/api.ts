/**
 * The control plane's API as the dashboard calls it: same origin, the session cookie (HttpOnly,
 * SameSite=Strict) sent by the browser, the CSRF token of the session on every change. Errors are
 * problem+json; an ApiError carries their title and detail for the page to show.
 */

import type { VmColumns } from './rows.ts';

export type Role = 'viewer' | 'operator' | 'approver' | 'admin' | string;

export interface Session {
  actor: string;
  role: Role;
  scopes?: unknown;
  csrf: string;
  expiresAt: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const BASE = '/api/v1';
let csrf: string | undefined;

export function setCsrf(token: string | undefined): void {
  csrf = token;
}

async function problemOf(response: Response): Promise<ApiError> {
  let text = `${response.status} ${response.statusText}`;
  let code: string | undefined;
  try {
    const body = (await response.json()) as { title?: string; detail?: string; code?: string };
    text = [body.title, body.detail].filter(Boolean).join(': ') || text;
    code = body.code;
  } catch {
    // not problem+json: the status line says it
  }
  return new ApiError(response.status, text, code);
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf !== undefined) headers['x-csrf-token'] = csrf;
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  if (!response.ok) throw await problemOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const enc = encodeURIComponent;

// ---- shapes the pages read (the OpenAPI document at /openapi.json has them all) ----------------

export interface SiteRow {
  site: string;
  agentId: string;
  version: string;
  live: boolean;
  heartbeatAt: string;
  heartbeatAgeMs: number;
  hostsSeenAt?: string;
  clockSkewMs?: number;
  lease?: { state: string; at: string; leaseLeftMs: number };
}

export interface InventorySite {
  site: string;
  complete: boolean;
  asOf?: string;
  receivedAt?: string;
  ageMs?: number;
  vms: number;
  hosts: number;
}

export interface VmRow {
  site: string;
  name: string;
  host: string;
  isTest: boolean;
  state: string;
  heartbeat: string;
  replication: {
    mode: string;
    state: string;
    health: string;
    primarySite: string;
    replicaSite: string;
    frequencySec: number;
    lastReplicationTime?: string;
    rpoMs: number | null;
  } | null;
  recoveryPoints: { count: number; newest?: string };
}

export interface InventoryView {
  sites: InventorySite[];
  vms: VmRow[];
  next?: string;
}

export interface VmHistory {
  vm: string;
  site: string | null;
  start: number;
  stepMs: number;
  rpoSec: (number | null)[];
  health: (string | null)[];
}

export interface PlanSummary {
  name: string;
  hash?: string;
  latest?: { hash: string };
  [key: string]: unknown;
}

export interface Objective {
  targetMs?: number;
  achievedMs?: number;
  verdict: string;
}

export interface DrillHistory {
  plan: string;
  targets: { rtoMs?: number; rpoMs?: number };
  drills: {
    execution: string;
    createdAt: string;
    status: string;
    by: string;
    reason: string;
    vms: number;
    rto: Objective;
    rpo: Objective;
    verdict: string;
  }[];
}

export interface PlanGraph {
  nodes: { id: string; kind: string; label: string; vm?: string; wave: number; estimateMs: number }[];
  edges: { from: string; to: string }[];
  criticalPath: string[];
  estimatedRtoMs: number;
  sequentialGroupsRtoMs: number;
}

export interface ExecutionRecord {
  id: string;
  type: string;
  direction: string;
  planName: string;
  hash: string;
  by: string;
  reason: string;
  createdAt: string;
  status: string;
  stepsTotal: number;
  stepsDone: number;
  currentWave?: number;
  waves?: number;
}

export interface ExecutionVmRow {
  vm: string;
  wave: number;
  state: string;
  startedAt?: string;
  endedAt?: string;
  step?: string;
}

export interface ExecutionVms {
  /** The rows as columns (rows.ts: parsed in a worker). */
  rows: VmColumns;
  status: string;
  currentWave?: number;
  startedAt?: string;
  elapsedMs?: number;
  estimateMs?: number;
  allowed: string[];
}

export interface Waits {
  paused: { step: string; attempt: number; error?: { message?: string } }[];
  approvals: { step: string; instruction: string; command: string }[];
}

export interface StoredEvent {
  id: string;
  event: { type: string; at: string; [key: string]: unknown };
}
