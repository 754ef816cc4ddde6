/**
 * The event log's schema, checked with zod on read: the contract's ExecutionEvent (written by the
 * orchestrator and the site workers) plus the engine's own additions below. Readers reject events
 * of a version they do not know.
 */
import { z } from 'zod';
import {
  DIVERGENCE_DETECTORS,
  EVENT_SCHEMA_VERSION,
  EXECUTION_TYPES,
  type ExecutionEvent,
  VM_PHASES,
} from './contract.ts';
import { type DataLossClaim, LOSS_BOUNDS } from './data-loss.ts';

/** An execution's status as operators see it (the execution machine's state). */
export type ExecutionStatus =
  | 'submitted'
  | 'running'
  | 'paused'
  | 'awaiting-cleanup'
  | 'cleaning-up'
  | 'cleaned-up'
  | 'completed'
  | 'failed'
  | 'cancelled'
  // A failover's lifecycle (engine/machines/execution-machine.ts).
  | 'changing-point'
  | 'cancelling'
  | 'committing'
  | 'commit-failed'
  | 'committed'
  | 'reprotecting'
  | 'reprotect-failed'
  | 'reprotected';

export const EXECUTION_STATUSES = [
  'submitted',
  'running',
  'paused',
  'awaiting-cleanup',
  'cleaning-up',
  'cleaned-up',
  'completed',
  'failed',
  'cancelled',
  'changing-point',
  'cancelling',
  'committing',
  'commit-failed',
  'committed',
  'reprotecting',
  'reprotect-failed',
  'reprotected',
] as const satisfies readonly ExecutionStatus[];

/** One VM's newest recovery point on the replica, as seen before an unplanned failover. */
export interface VmRecoveryPointInfo {
  vm: string;
  /** ISO time of the newest point, absent when the VM has none. */
  time?: string;
}

/**
 * Why an automatic failover was started (engine/control/auto): the lost site, the renewals the
 * monitor leader saw, the witness's verdict and the data-loss window it was checked against.
 * Metadata only. `drill`: the automation's own drill (`drctl auto drill`), a test failover.
 */
export interface AutomaticEvidence {
  site: string;
  drill: boolean;
  /** When the monitor leader declared the site lost (ISO wall time). */
  lostAt: string;
  /** The last renewal the leader received (ISO wall time, from its monotonic clock). */
  lastRenewalAt?: string;
  renewals: { at: string; incarnation: string; counter: number; via: 'direct' | 'relayed' }[];
  witness?: { verdict: 'reachable' | 'unreachable'; by: 'peer' | 'arbiter'; detail: string; at: string };
  /** The widest data-loss window the inventory shows (last replicated point to the loss). */
  dataLossWindowMs?: number;
  maxDataLossMs?: number;
  /** The source site's fence steps are recorded as fenced by the expired lease, not waited for. */
  fencedByLease: boolean;
}

/** Events the engine adds to the contract's (same schema version: new types, no changed meaning). */
export type EngineOnlyEvent =
  | ({ v: 1; at: string; type: 'automatic-failover'; execution: string } & AutomaticEvidence)
  | {
      v: 1;
      at: string;
      type: 'execution-status';
      execution: string;
      status: ExecutionStatus;
      detail?: string;
    }
  | {
      v: 1;
      at: string;
      type: 'recovery-point-gap';
      execution: string;
      vms: VmRecoveryPointInfo[];
      oldest?: string;
      newest?: string;
      spreadMs: number;
    }
  | {
      v: 1;
      at: string;
      /** Each VM's data-loss claim (data-loss.ts), from what the engine saw: no write counts. */
      type: 'data-loss';
      execution: string;
      vms: DataLossClaim[];
      /** The widest window of all, and whether any VM's end is only a lower bound. */
      maxWindowMs: number;
      anyAtLeast: boolean;
    }
  | {
      v: 1;
      at: string;
      /**
       * A `data-loss` event as drctl wrote it before the engine claimed data loss itself: write counts
       * read from the simulator's ledger. Never written now; read so that old logs stay readable.
       */
      type: 'ledger-data-loss';
      execution: string;
      vms: { vm: string; lostWrites: number; recoveryPoint?: string; windowMs?: number }[];
      totalLostWrites: number;
    };

/** Commands an operator gives about one step (`drctl approve`, `drctl step retry|skip|done`). */
export const OPERATOR_COMMANDS = ['approve', 'retry', 'skip', 'done'] as const;
export type OperatorCommandName = (typeof OPERATOR_COMMANDS)[number];

/** Operator control and action re-runs (orchestrator/operator.ts, handlers/action.ts). */
export type OperatorEvent =
  | {
      v: 1;
      at: string;
      /** A step failed under `then: pause`: it waits for an operator, the rest of the plan goes on. */
      type: 'step-paused';
      execution: string;
      step: string;
      site: string;
      attempt: number;
      error: { code: string; message: string; retryable: boolean };
    }
  | {
      v: 1;
      at: string;
      /** An operator's command as the orchestrator applied it (or refused it: `accepted: false`). */
      type: 'operator-action';
      execution: string;
      step: string;
      command: OperatorCommandName;
      by: string;
      /** The operator's reason (`--reason`) or approval comment (`--comment`). */
      reason: string;
      /** When the operator gave it (the event's `at` is when it was applied). */
      givenAt: string;
      accepted: boolean;
      /** The step's attempt the command was about. */
      attempt: number;
      detail?: string;
    }
  | {
      v: 1;
      at: string;
      /**
       * An operator let a reprotect overwrite the diverged writes of these VMs' old primaries
       * (`drctl reprotect --discard-diverged`). Appended to the failover's log and the reprotect's.
       */
      type: 'divergence-acknowledged';
      execution: string;
      /** The reprotect that discards them. */
      reprotect: string;
      vms: string[];
      by: string;
      reason: string;
      /** When the operator gave it. */
      givenAt: string;
    }
  | {
      v: 1;
      at: string;
      /** An action whose earlier run never finished (its worker died) is run again. */
      type: 'action-rerun';
      execution: string;
      step: string;
      site: string;
      /** This run's number (runs of the step started so far, this one included; DR_ATTEMPT). */
      attempt: number;
      reason: string;
      previous: { job: string; startedAt: string; worker: string; attempt?: number };
    };

/** Every event the log may hold. */
export type EngineEvent = ExecutionEvent | EngineOnlyEvent | OperatorEvent;

const base = { v: z.literal(EVENT_SCHEMA_VERSION), at: z.string(), execution: z.string() };

/** A data-loss claim as stored (events, the execution's record). */
export const dataLossClaimSchema = z.object({
  vm: z.string(),
  recoveryPoint: z.string().optional(),
  recoveryPointTime: z.string(),
  windowStart: z.string(),
  windowEnd: z.string(),
  windowMs: z.number(),
  bound: z.enum(LOSS_BOUNDS),
  basis: z.string(),
});
const executionType = z.enum(EXECUTION_TYPES);
const outcome = z.enum(['done', 'failed', 'warned', 'skipped']);
const phase = z.enum(VM_PHASES);
const stepError = z.object({ code: z.string(), message: z.string(), retryable: z.boolean() });

export const automaticEvidenceSchema = z.object({
  site: z.string(),
  drill: z.boolean(),
  lostAt: z.string(),
  lastRenewalAt: z.string().optional(),
  renewals: z.array(
    z.object({
      at: z.string(),
      incarnation: z.string(),
      counter: z.number(),
      via: z.enum(['direct', 'relayed']),
    }),
  ),
  witness: z
    .object({
      verdict: z.enum(['reachable', 'unreachable']),
      by: z.enum(['peer', 'arbiter']),
      detail: z.string(),
      at: z.string(),
    })
    .optional(),
  dataLossWindowMs: z.number().optional(),
  maxDataLossMs: z.number().optional(),
  fencedByLease: z.boolean(),
});

export const engineEventSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('automatic-failover'), ...automaticEvidenceSchema.shape }),
  z.object({
    ...base,
    type: z.literal('execution-submitted'),
    plan: z.string(),
    hash: z.string(),
    executionType,
    by: z.string(),
    reason: z.string(),
    epoch: z.number(),
  }),
  z.object({ ...base, type: z.literal('execution-started'), orchestrator: z.string() }),
  z.object({
    ...base,
    type: z.literal('execution-resumed'),
    orchestrator: z.string(),
    pendingSteps: z.number(),
  }),
  z.object({
    ...base,
    type: z.literal('execution-finished'),
    status: z.enum(['completed', 'failed', 'cancelled']),
    rtoMs: z.number().optional(),
    durationMs: z.number().optional(),
    runMs: z.number().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('vm-phase'),
    vm: z.string(),
    site: z.string(),
    phase,
    detail: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('step-started'),
    step: z.string(),
    site: z.string(),
    attempt: z.number(),
  }),
  z.object({
    ...base,
    type: z.literal('step-finished'),
    step: z.string(),
    site: z.string(),
    outcome,
    attempt: z.number(),
    output: z.record(z.string(), z.unknown()).optional(),
    error: stepError.optional(),
  }),
  z.object({
    ...base,
    type: z.literal('execution-status'),
    status: z.enum(EXECUTION_STATUSES),
    detail: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('recovery-point-gap'),
    vms: z.array(z.object({ vm: z.string(), time: z.string().optional() })),
    oldest: z.string().optional(),
    newest: z.string().optional(),
    spreadMs: z.number(),
  }),
  z.object({
    ...base,
    type: z.literal('data-loss'),
    vms: z.array(dataLossClaimSchema),
    maxWindowMs: z.number(),
    anyAtLeast: z.boolean(),
  }),
  z.object({
    ...base,
    type: z.literal('ledger-data-loss'),
    vms: z.array(
      z.object({
        vm: z.string(),
        lostWrites: z.number(),
        recoveryPoint: z.string().optional(),
        windowMs: z.number().optional(),
      }),
    ),
    totalLostWrites: z.number(),
  }),
  z.object({
    ...base,
    type: z.literal('step-paused'),
    step: z.string(),
    site: z.string(),
    attempt: z.number(),
    error: stepError,
  }),
  z.object({
    ...base,
    type: z.literal('operator-action'),
    step: z.string(),
    command: z.enum(OPERATOR_COMMANDS),
    by: z.string(),
    reason: z.string(),
    givenAt: z.string(),
    accepted: z.boolean(),
    attempt: z.number(),
    detail: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('diverged'),
    vm: z.string(),
    site: z.string(),
    runsAt: z.string(),
    ranFrom: z.string(),
    ranUntil: z.string(),
    ranMs: z.number(),
    fenced: z.boolean(),
    discard: z.object({ since: z.string().optional(), bytes: z.number().optional() }),
    detectedBy: z.enum(DIVERGENCE_DETECTORS),
  }),
  z.object({
    ...base,
    type: z.literal('divergence-acknowledged'),
    reprotect: z.string(),
    vms: z.array(z.string()),
    by: z.string(),
    reason: z.string(),
    givenAt: z.string(),
  }),
  z.object({
    ...base,
    type: z.literal('action-rerun'),
    step: z.string(),
    site: z.string(),
    attempt: z.number(),
    reason: z.string(),
    previous: z.object({
      job: z.string(),
      startedAt: z.string(),
      worker: z.string(),
      attempt: z.number().optional(),
    }),
  }),
]);
