/**
 * What a site agent and the control plane say to each other (engine/agent, engine/control/agents):
 * one declared, size-capped schema per message, every object strict (an unknown field is refused,
 * not dropped). Both sides parse with these same schemas; the control plane's routes are built from
 * them, so /openapi.json shows them too. Metadata only: units, results, events, sightings.
 */
import { z } from 'zod';
import { NO_CONTROL, NO_CONTROL_BUT_LINES } from '../common/index.ts';
import { DIVERGENCE_DETECTORS, VM_PHASES } from './contract.ts';
import { dataLossClaimSchema } from './event-schema.ts';
import { stepOutputSchema } from './step-output.ts';

/**
 * The header an agent's inventory post names its session by (the one its hello opened): the
 * batch's own `session` is the inventory reporter's run.
 */
export const AGENT_SESSION_HEADER = 'x-agent-session';

/** Largest batch of units one poll returns, and of results one post carries. */
export const MAX_POLL_UNITS = 500;
export const MAX_RESULTS_PER_POST = 500;
/** Longest a poll waits for a unit when none is ready (ms). */
export const MAX_POLL_WAIT_MS = 25_000;

// No control characters (ESC, CR ...): agents' text ends up in operators' terminals and logs.
const noControl = { error: 'contains control characters' };
const printable = (max: number) => z.string().max(max).regex(NO_CONTROL, noControl);
const name = printable(200).min(1);
const id = printable(400).min(1);
/** A real ISO-8601 time with its offset: a stored time is parsed later (status, reprotect), so garbage is refused here. */
const iso = z.iso.datetime({ offset: true });
const session = z.string().regex(/^[0-9a-f]{32}$/, 'a session id is the 32 hex digits hello returned');
const text = z
  .string()
  .max(65_536)
  .regex(NO_CONTROL_BUT_LINES, { error: 'contains control characters other than newlines and tabs' });
const stepError = z.strictObject({ code: printable(200), message: text, retryable: z.boolean() });
const output = stepOutputSchema;

/** The script catalog an agent serves (catalog-announce.ts): entry name → sha256 of the file. */
export const scriptCatalogSchema = z.strictObject({
  folder: printable(4096).optional(),
  scripts: z.record(name, z.string().regex(/^[0-9a-f]{64}$/)),
});

export const helloSchema = z
  .strictObject({
    site: name,
    agentId: name,
    version: z.string().regex(/^\d+\.\d+\.\d+([-+][\w.-]+)?$/, 'a version is major.minor.patch'),
    scriptCatalog: scriptCatalogSchema,
    /**
     * Take the site from another agent whose session is still live (`drctl agent --replace`);
     * without it such a hello is refused (409 SITE_HAS_AGENT). The same agent id always may.
     */
    replace: z.boolean().optional(),
  })
  .meta({ id: 'AgentHello' });
export type AgentHello = z.infer<typeof helloSchema>;

export const helloReplySchema = z
  .object({
    session: z.string(),
    controlVersion: z.string(),
    /** How often the control plane expects a heartbeat (ms). */
    heartbeatMs: z.number(),
    /** After how long without a heartbeat or poll the session is gone and its units are handed again. */
    sessionTtlMs: z.number(),
  })
  .meta({ id: 'AgentSession' });
export type AgentSession = z.infer<typeof helloReplySchema>;

export const heartbeatSchema = z
  .strictObject({
    session,
    /** Units the agent runs now or has results of not yet accepted: the others handed to it are lost. */
    running: z.array(id).max(20_000),
    /** Host time when the agent last found a host of its site powered (the site's heartbeat). */
    hostsSeenAt: iso.optional(),
    /** Sent when it changed, and every few heartbeats; absent: the last one still holds. */
    scriptCatalog: scriptCatalogSchema.optional(),
  })
  .meta({ id: 'AgentHeartbeat' });
export type AgentHeartbeat = z.infer<typeof heartbeatSchema>;

export const pollSchema = z
  .strictObject({
    session,
    /** Units the agent can start now. */
    max: z.number().int().min(1).max(MAX_POLL_UNITS),
    /** How long to wait when none is ready. */
    waitMs: z.number().int().min(0).max(MAX_POLL_WAIT_MS),
  })
  .meta({ id: 'AgentPoll' });
export type AgentPoll = z.infer<typeof pollSchema>;

const primarySightingSchema = z.strictObject({
  runningAt: iso.optional(),
  off: z.strictObject({ at: iso, by: z.enum(['fence', 'shutdown', 'read']) }).optional(),
  siteHeartbeatAt: iso.optional(),
});

/** A unit as handed to an agent: its StepJobData, the late-fence flags and its VM's sightings. */
export const handedUnitSchema = z.strictObject({
  id,
  /** StepJobData v1 (engine/executor/handlers job-schema.ts checks it at the agent). */
  data: z.record(z.string(), z.unknown()),
  late: z.boolean(),
  lateFailedOver: z.boolean(),
  /** What the engine knows of the unit's VM at each of its sites (site → sighting). */
  sightings: z.record(name, primarySightingSchema),
  /** An action's VMs (its VM, or its group's VMs from the plan snapshot). */
  actionVms: z.array(name).optional(),
});
export type HandedUnit = z.infer<typeof handedUnitSchema>;

export const pollReplySchema = z.object({ units: z.array(handedUnitSchema) }).meta({ id: 'AgentUnits' });
export type AgentUnits = z.infer<typeof pollReplySchema>;

const stepResultSchema = z.strictObject({
  id,
  outcome: z.enum(['done', 'failed', 'warned', 'skipped']),
  startedAt: iso,
  endedAt: iso,
  error: stepError.optional(),
  output: output.optional(),
});

export const stepJobResultSchema = z.strictObject({
  v: z.literal(1),
  steps: z.array(stepResultSchema).max(64),
  recoveryPoint: z.strictObject({ id, time: iso }).optional(),
  dataLoss: dataLossClaimSchema.strict().optional(),
  alreadyDone: z.boolean().optional(),
});

const eventBase = { v: z.literal(1), at: iso, execution: id };
const divergedEventSchema = z.strictObject({
  ...eventBase,
  type: z.literal('diverged'),
  vm: name,
  site: name,
  runsAt: name,
  ranFrom: iso,
  ranUntil: iso,
  ranMs: z.number().min(0),
  fenced: z.boolean(),
  discard: z.strictObject({ since: iso.optional(), bytes: z.number().optional() }),
  detectedBy: z.enum(DIVERGENCE_DETECTORS),
});

/** The events a unit's handlers write (engine/executor/handlers dispatch.ts, action.ts, fence.ts). */
export const agentEventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...eventBase,
    type: z.literal('step-started'),
    step: id,
    site: name,
    attempt: z.number(),
  }),
  z.strictObject({
    ...eventBase,
    type: z.literal('step-finished'),
    step: id,
    site: name,
    outcome: z.enum(['done', 'failed', 'warned', 'skipped']),
    attempt: z.number(),
    output: output.optional(),
    error: stepError.optional(),
  }),
  z.strictObject({
    ...eventBase,
    type: z.literal('vm-phase'),
    vm: name,
    site: name,
    phase: z.enum(VM_PHASES),
    detail: text.optional(),
  }),
  divergedEventSchema,
  z.strictObject({
    ...eventBase,
    type: z.literal('action-rerun'),
    step: id,
    site: name,
    attempt: z.number(),
    reason: text,
    previous: z.strictObject({
      job: id,
      startedAt: iso,
      worker: name,
      attempt: z.number().optional(),
    }),
  }),
]);

/** A sighting a handler recorded (engine/locks SightingStore), applied by the control plane. */
export const sightingOpSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('running'), site: name, vm: name, at: iso }),
  z.strictObject({
    op: z.literal('off'),
    site: name,
    vm: name,
    at: iso,
    by: z.enum(['fence', 'shutdown', 'read']),
  }),
  z.strictObject({ op: z.literal('started'), site: name, vm: name }),
]);
export type SightingOp = z.infer<typeof sightingOpSchema>;

/** One unit's end as the agent reports it: its result, and what its handlers wrote meanwhile. */
export const unitReportSchema = z.strictObject({
  unit: id,
  execution: id,
  vm: name.optional(),
  result: stepJobResultSchema,
  /** A stale epoch: the control plane fails the job as unrecoverable after publishing the result. */
  unrecoverable: z.strictObject({ code: printable(200), message: text }).optional(),
  events: z.array(agentEventSchema).max(2000),
  sightings: z.array(sightingOpSchema).max(200),
});
export type UnitReport = z.infer<typeof unitReportSchema>;

/** Events of a unit still running, sent ahead of its report so that the log shows it live. */
export const unitProgressSchema = z.strictObject({
  unit: id,
  events: z.array(agentEventSchema).min(1).max(2000),
});
export type UnitProgress = z.infer<typeof unitProgressSchema>;

export const resultsSchema = z
  .strictObject({
    session,
    results: z.array(unitReportSchema).max(MAX_RESULTS_PER_POST),
    progress: z.array(unitProgressSchema).max(MAX_RESULTS_PER_POST).optional(),
  })
  .refine((body) => body.results.length > 0 || (body.progress?.length ?? 0) > 0, {
    message: 'a post carries at least one result or progress entry',
  })
  .meta({ id: 'AgentResults' });
export type AgentResults = z.infer<typeof resultsSchema>;

export const resultsReplySchema = z
  .object({
    accepted: z.number(),
    /** Results already recorded (a post repeated after a lost answer): nothing changed. */
    duplicates: z.number(),
  })
  .meta({ id: 'AgentResultsReceipt' });

const markSchema = z.strictObject({
  job: id,
  attempt: z.number().int(),
  startedAt: iso,
  worker: name,
  group: z.strictObject({ host: name, pgid: z.number().int() }).optional(),
});

/** An action memo call of a running unit (handlers/action.ts ActionMemo), answered from Redis. */
export const memoSchema = z
  .strictObject({
    session,
    unit: id,
    step: id,
    call: z.discriminatedUnion('op', [
      z.strictObject({ op: z.literal('done') }),
      z.strictObject({ op: z.literal('begin'), mark: markSchema }),
      z.strictObject({
        op: z.literal('spawned'),
        group: z.strictObject({ host: name, pgid: z.number().int() }),
      }),
      z.strictObject({ op: z.literal('end'), result: stepResultSchema.optional() }),
    ]),
  })
  .meta({ id: 'AgentMemoCall' });
export type AgentMemoCall = z.infer<typeof memoSchema>;

export const memoReplySchema = z
  .object({
    done: z.record(z.string(), z.unknown()).optional(),
    interrupted: z.record(z.string(), z.unknown()).optional(),
    runs: z.number().optional(),
  })
  .meta({ id: 'AgentMemoReply' });

export const failedOverQuerySchema = z
  .strictObject({ session, vms: z.array(name).max(20_000) })
  .meta({ id: 'AgentFailedOverQuery' });

export const failedOverReplySchema = z
  .object({
    records: z.record(
      z.string(),
      z.object({ execution: z.string(), site: z.string(), epoch: z.number().optional() }),
    ),
  })
  .meta({ id: 'AgentFailedOver' });

export const divergencesSchema = z
  .strictObject({ session, events: z.array(divergedEventSchema).min(1).max(1000) })
  .meta({ id: 'AgentDivergences' });

export const siteListSchema = z
  .object({
    sites: z.array(
      z.object({
        site: z.string(),
        agentId: z.string(),
        version: z.string(),
        live: z.boolean().describe('heartbeat (or poll) within the session TTL'),
        heartbeatAt: z.string(),
        heartbeatAgeMs: z.number(),
        hostsSeenAt: z.string().optional(),
        clockSkewMs: z
          .number()
          .optional()
          .describe(
            "the agent's clock minus the control plane's at its last heartbeat (measured, never refused on)",
          ),
        lease: z
          .object({
            state: z
              .string()
              .describe(
                'watching, online, suspect, expired, isolated, lost, failingOver, failedOver, returned',
              ),
            at: z.string().describe('when the monitor leader wrote it'),
            leaseLeftMs: z
              .number()
              .describe("the lease's remaining time on the leader's clock then (negative: expired)"),
          })
          .optional()
          .describe("the site's lease as the site monitor's leader sees it (absent before it has looked)"),
      }),
    ),
  })
  .meta({ id: 'SiteList' });
export type SiteList = z.infer<typeof siteListSchema>;

/**
 * Agent and control plane work together when their versions share major and minor: a patch
 * changes nothing of these messages; a minor may.
 */
export function versionsCompatible(agent: string, control: string): boolean {
  const mm = (v: string): string => v.split('.').slice(0, 2).join('.');
  return mm(agent) === mm(control);
}
