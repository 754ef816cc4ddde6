import { z } from 'zod';
import { parseDuration } from './units.ts';

/** The zod schema of world files (YAML, `kind: SimWorld`), in the units a file writes. */

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected a name of letters, digits, ".", "_" or "-"');
const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid duration ${JSON.stringify(value)}; write 250ms, 30s, 5m, 2h or 1d`,
    });
    return z.NEVER;
  }
  return ms;
});
const frequency = duration.refine((ms) => ms === 30_000 || ms === 300_000 || ms === 900_000, {
  message: 'Hyper-V Replica replicates every 30s, 5m or 15m',
});
const where = { site: name, host: name };

export const vmSchema = z.strictObject({
  name: name,
  site: name,
  host: name,
  memoryMb: z.number().int().positive().optional(),
  diskGb: z.number().positive().optional(),
  state: z.enum(['Running', 'Off']).optional(),
  network: z.strictObject({ network: name, ip: z.string().optional() }).optional(),
  boot: z.union([duration, z.strictObject({ min: duration, max: duration })]).optional(),
  automaticStartAction: z.enum(['Nothing', 'StartIfRunning', 'Start']).optional(),
  workload: z
    .strictObject({
      writesPerSec: z
        .union([
          z.number().nonnegative(),
          z.strictObject({ min: z.number().nonnegative(), max: z.number().nonnegative() }),
        ])
        .optional(),
      bytesPerWrite: z.number().int().positive().optional(),
    })
    .optional(),
  replication: z
    .strictObject({
      ...where,
      frequency: frequency.optional(),
      recoveryPoints: z.number().int().min(0).max(24).optional(),
      appConsistentEvery: duration
        .refine((ms) => ms % 3_600_000 === 0 && ms >= 3_600_000 && ms <= 12 * 3_600_000, {
          message: 'VSS snapshots are taken every 1h to 12h, in whole hours',
        })
        .optional(),
      phase: duration.optional(),
      extended: z
        .strictObject({
          ...where,
          frequency: frequency
            .refine((ms) => ms !== 30_000, { message: 'extended replication runs every 5m or 15m' })
            .optional(),
          recoveryPoints: z.number().int().min(0).max(24).optional(),
          phase: duration.optional(),
          appConsistentEvery: z
            .never({ error: 'extended replication keeps no application-consistent recovery points' })
            .optional(),
        })
        .optional(),
    })
    .optional(),
});

const faultSchema = z.discriminatedUnion('kind', [
  z.strictObject({ at: duration, kind: z.literal('host-crash'), ...where }),
  z.strictObject({ at: duration, kind: z.literal('host-up'), ...where }),
  z.strictObject({ at: duration, kind: z.literal('site-power'), site: name, state: z.enum(['off', 'on']) }),
  z.strictObject({
    at: duration,
    kind: z.literal('link'),
    from: name,
    to: name,
    state: z.enum(['down', 'up']),
  }),
  z.strictObject({
    at: duration,
    kind: z.literal('boot'),
    vm: name,
    site: name.optional(),
    mode: z.enum(['slow', 'fail', 'normal']),
    factor: z.number().positive().optional(),
  }),
  z.strictObject({
    at: duration,
    kind: z.literal('throttle'),
    from: name,
    to: name,
    bandwidthMbps: z.number().positive(),
  }),
]);

export const fileSchema = z.strictObject({
  apiVersion: z.literal('dr/v1'),
  kind: z.literal('SimWorld'),
  metadata: z.strictObject({ name: name, description: z.string().optional() }),
  spec: z.strictObject({
    seed: z.number().int().nonnegative().optional(),
    start: z.iso.datetime({ offset: true }).optional(),
    clock: z
      .strictObject({ mode: z.enum(['manual', 'real', 'scaled']), speed: z.number().positive().optional() })
      .optional(),
    replicationErrorAfter: duration.optional(),
    sites: z
      .array(
        z.strictObject({
          name: name,
          networks: z.array(z.strictObject({ name: name, isolated: z.boolean().optional() })).optional(),
          hosts: z
            .array(
              z.strictObject({
                name: name,
                vmSlots: z.number().int().positive().optional(),
                memoryMb: z.number().int().positive().optional(),
                maxConcurrentBoots: z.number().int().positive().optional(),
              }),
            )
            .min(1),
        }),
      )
      .min(1),
    links: z
      .array(
        z.strictObject({
          between: z.tuple([name, name]),
          latency: duration.optional(),
          bandwidthMbps: z.number().positive().optional(),
          up: z.boolean().optional(),
        }),
      )
      .optional(),
    vms: z.array(vmSchema),
    faults: z.array(faultSchema).optional(),
    randomFaults: z
      .strictObject({
        seed: z.number().int().nonnegative().optional(),
        horizon: duration.optional(),
        hostCrashesPerDay: z.number().nonnegative().optional(),
        hostDowntime: duration.optional(),
        linkCutsPerDay: z.number().nonnegative().optional(),
        linkOutage: duration.optional(),
      })
      .optional(),
  }),
});

export type FileWorld = z.output<typeof fileSchema>;
export type FileVm = z.output<typeof vmSchema>;

/** JSON Schema of world files, for editors (`# yaml-language-server: $schema=...`). */
export function worldJsonSchema(): unknown {
  return z.toJSONSchema(fileSchema, { io: 'input', unrepresentable: 'any' });
}
