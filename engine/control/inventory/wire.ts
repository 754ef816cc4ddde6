/**
 * What a site's agent may send about its hosts: the declared, size-capped inventory schema. Only
 * metadata (names, states, times, sizes, health); every object is strict, so a field the schema
 * does not name (disk content, a host's private detail) is refused, never stored.
 *
 * A batch is `full` (the whole site, possibly split in parts) or `changes` (VMs whose record
 * changed, VMs gone, hosts and networks when they changed). `seq` numbers every batch of one
 * reporter: see store.ts for how the vault accepts, de-duplicates or refuses them.
 */
import { z } from 'zod';

/** Hyper-V allows 100 characters for a VM name; a test VM adds ` - Test`. */
export const VM_NAME_MAX = 128;
/** Site, host, network and recovery point names. */
export const NAME_MAX = 128;
/** Hyper-V keeps up to 24 recovery points besides the latest. */
export const POINTS_MAX = 32;
/** VM records (or removals) in one batch: a 10,000-VM site sends its full in several parts. */
export const BATCH_VMS_MAX = 2_000;
export const BATCH_HOSTS_MAX = 1_000;
export const BATCH_NETWORKS_MAX = 1_000;
/** Parts of one full inventory (10,000 VMs at a few hundred a part fit well below it). */
export const FULL_PARTS_MAX = 1_000;
/** The route's body limit, bytes. A reporter keeps its batches under INVENTORY_BATCH_BYTES. */
export const INVENTORY_BODY_LIMIT = 1_048_576;
/** What the reporter aims at: half the limit, so one oversized VM record never pushes a batch over. */
export const INVENTORY_BATCH_BYTES = 512 * 1024;

// No control characters in names: they end up in logs, terminals and Redis keys' neighbours.
const printable = /^[^\p{Cc}]+$/u;
const name = (max: number) =>
  z
    .string()
    .min(1)
    .max(max, { error: `longer than ${max} characters` })
    .regex(printable, { error: 'contains control characters' });
const time = z.iso.datetime({ offset: true, error: 'not an ISO-8601 time' });
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const PowerStates = ['Off', 'Starting', 'Running', 'Stopping'] as const;
export const Heartbeats = ['Ok', 'NoContact'] as const;
export const StartActions = ['Nothing', 'StartIfRunning', 'Start'] as const;
export const Healths = ['Normal', 'Warning', 'Critical'] as const;
export const Modes = ['Primary', 'Replica', 'ExtendedReplica', 'TestReplica', 'None'] as const;
export const ReplicationStates = [
  'Disabled',
  'Replicating',
  'Suspended',
  'PreparedForFailover',
  'FailedOverWaitingCompletion',
  'FailedOver',
  'WaitingForStartResynchronize',
  'Resynchronizing',
  'Error',
] as const;
export const PointKinds = ['latest', 'standard', 'appConsistent'] as const;
export const Frequencies = [30, 300, 900] as const;

export const WirePointSchema = z.strictObject({
  id: name(NAME_MAX),
  kind: z.enum(PointKinds),
  time,
});

export const WireReplicationSchema = z.strictObject({
  mode: z.enum(Modes),
  state: z.enum(ReplicationStates),
  health: z.enum(Healths),
  primarySite: name(NAME_MAX),
  replicaSite: name(NAME_MAX),
  frequencySec: z.union(Frequencies.map((f) => z.literal(f))),
  lastReplicationTime: time.optional(),
  resyncRequired: z.boolean(),
});

/** One VM as its site sees it: Get-VM merged with Get-VMReplication, and its recovery points. */
export const WireVmSchema = z.strictObject({
  name: name(VM_NAME_MAX),
  host: name(NAME_MAX),
  isTest: z.boolean(),
  state: z.enum(PowerStates),
  heartbeat: z.enum(Heartbeats),
  automaticStartAction: z.enum(StartActions),
  /** When the VM last powered on (host time; Get-VM's Uptime as a time, so it does not change while it runs). Absent when Off. */
  poweredOnAt: time.optional(),
  epoch: count,
  startBarred: z.boolean(),
  memoryMb: count,
  network: z.strictObject({ network: name(NAME_MAX), ip: z.string().max(64).optional() }).nullable(),
  replication: WireReplicationSchema.nullable(),
  /** The point a failed-over replica or test VM was made from (Get-VM's ParentSnapshot). */
  madeFrom: WirePointSchema.optional(),
  /** The implicit latest point (Get-VMSnapshot's first entry), absent when there is none. */
  latest: z.strictObject({ id: name(NAME_MAX), time }).optional(),
  /**
   * The other recovery points, newest first. Required in a full; in a changes batch, absent means
   * "unchanged since the last batch" (they change once an hour, the VM's state far more often).
   */
  points: z
    .array(WirePointSchema.extend({ kind: z.enum(['standard', 'appConsistent']) }))
    .max(POINTS_MAX)
    .optional(),
});

export const WireHostSchema = z.strictObject({
  name: name(NAME_MAX),
  powered: z.boolean(),
  vmSlots: count,
  memoryMb: count,
  usedSlots: count,
  usedMemoryMb: count,
  maxConcurrentBoots: count,
  booting: count,
});

export const WireNetworkSchema = z.strictObject({ name: name(NAME_MAX), isolated: z.boolean() });

const common = {
  /** The reporter's run: a new one (a restart, a reconnect) starts with a full. */
  session: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, { error: 'not a session id (8-64 of A-Z a-z 0-9 _ -)' }),
  /** This batch's number; consecutive within one reporter's sequence (a full's first part starts one). */
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  /** The hosts' clock when the batch's sweep read them. */
  hostTime: time,
  vms: z.array(WireVmSchema).max(BATCH_VMS_MAX),
};

export const FullBatchSchema = z.strictObject({
  kind: z.literal('full'),
  ...common,
  /** 0-based part of this full, of `parts`. Part 0 carries hosts and networks. */
  part: z
    .number()
    .int()
    .min(0)
    .max(FULL_PARTS_MAX - 1),
  parts: z.number().int().min(1).max(FULL_PARTS_MAX),
  hosts: z.array(WireHostSchema).max(BATCH_HOSTS_MAX).optional(),
  networks: z.array(WireNetworkSchema).max(BATCH_NETWORKS_MAX).optional(),
});

export const ChangesBatchSchema = z.strictObject({
  kind: z.literal('changes'),
  ...common,
  /** VMs the site no longer lists (removed, or their host went down). */
  removed: z.array(name(VM_NAME_MAX)).max(BATCH_VMS_MAX),
  /** The site's whole host list, when any host changed. */
  hosts: z.array(WireHostSchema).max(BATCH_HOSTS_MAX).optional(),
  networks: z.array(WireNetworkSchema).max(BATCH_NETWORKS_MAX).optional(),
});

export const InventoryBatchSchema = z
  .discriminatedUnion('kind', [FullBatchSchema, ChangesBatchSchema])
  .superRefine((batch, ctx) => {
    if (batch.kind === 'full') {
      if (batch.part >= batch.parts)
        ctx.addIssue({ code: 'custom', path: ['part'], message: `part ${batch.part} of ${batch.parts}` });
      if (batch.part === 0 && (batch.hosts === undefined || batch.networks === undefined))
        ctx.addIssue({
          code: 'custom',
          path: ['hosts'],
          message: "a full's part 0 carries hosts and networks",
        });
      if (batch.part > 0 && (batch.hosts !== undefined || batch.networks !== undefined))
        ctx.addIssue({
          code: 'custom',
          path: ['hosts'],
          message: "only a full's part 0 carries hosts and networks",
        });
      for (const [i, vm] of batch.vms.entries())
        if (vm.points === undefined)
          ctx.addIssue({ code: 'custom', path: ['vms', i, 'points'], message: 'a full lists every point' });
    }
    const seen = new Set<string>();
    for (const [i, vm] of batch.vms.entries()) {
      if (seen.has(vm.name))
        ctx.addIssue({ code: 'custom', path: ['vms', i, 'name'], message: `VM '${vm.name}' twice` });
      seen.add(vm.name);
    }
  })
  .meta({ id: 'InventoryBatch' });

export type WireVm = z.infer<typeof WireVmSchema>;
export type WireHost = z.infer<typeof WireHostSchema>;
export type WireNetwork = z.infer<typeof WireNetworkSchema>;
export type WirePoint = z.infer<typeof WirePointSchema>;
export type FullBatch = z.infer<typeof FullBatchSchema>;
export type ChangesBatch = z.infer<typeof ChangesBatchSchema>;
export type InventoryBatch = z.infer<typeof InventoryBatchSchema>;

/** The vault's answer to a batch. */
export const BatchAnswerSchema = z.object({
  applied: z.boolean().describe('false for a batch already applied (a retry)'),
  seq: z.number().int(),
  /** True while a refresh was asked for and this batch does not end it (a full in parts). */
  refresh: z.boolean(),
});
export type BatchAnswer = z.infer<typeof BatchAnswerSchema>;

/** The code of the 409 a batch out of sequence gets: the reporter answers it with a full. */
export const RESYNC_CODE = 'INVENTORY_RESYNC';
