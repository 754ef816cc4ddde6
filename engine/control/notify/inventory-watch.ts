/**
 * Health and RPO from the agents' inventory: each applied batch's samples are compared, in one
 * script per batch, with what the vault last knew of each VM (`<prefix>:notify:vm:<site>`, per VM
 * two flags: Critical, beyond its RPO target). A VM that turns Critical, or whose RPO goes beyond
 * the smallest `targets.rpo` of the plans it is in, is notified once, on the change; the next
 * change back arms it again. The plans' targets are read from the vault at most every `targetsTtlMs`.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import type { InventorySample } from '../inventory/index.ts';
import { createPlanReader, listPlans } from '../plans/store.ts';
import type { NotificationEvent } from './events.ts';

/** Per VM: its smallest RPO target and the plan that sets it. */
export type RpoTargets = ReadonlyMap<string, { plan: string; rpoMs: number }>;

export interface InventoryWatch {
  samples(samples: readonly InventorySample[]): Promise<void>;
}

const TRANSITIONS = `
local out = {}
for i = 1, #ARGV, 3 do
  local vm, critical, beyond = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local before = redis.call('HGET', KEYS[1], vm) or '00'
  local now = critical .. beyond
  if before ~= now then
    redis.call('HSET', KEYS[1], vm, now)
    if critical == '1' and string.sub(before, 1, 1) ~= '1' then table.insert(out, vm .. '|c') end
    if beyond == '1' and string.sub(before, 2, 2) ~= '1' then table.insert(out, vm .. '|b') end
  end
end
return out`;

export function createInventoryWatch(options: {
  redis: Redis;
  prefix: string;
  notify: (event: NotificationEvent) => Promise<unknown>;
  log: Logger;
  /** @defaultValue 30_000 */
  targetsTtlMs?: number;
}): InventoryWatch {
  const { redis, prefix } = options;
  const reader = createPlanReader(redis, prefix);
  let targets: { at: number; map: Promise<RpoTargets> } | undefined;
  const targetsNow = (): Promise<RpoTargets> => {
    const now = Date.now();
    if (targets === undefined || now - targets.at > (options.targetsTtlMs ?? 30_000))
      targets = { at: now, map: loadTargets(redis, prefix, reader) };
    return targets.map;
  };
  return {
    async samples(samples) {
      if (samples.length === 0) return;
      const map = await targetsNow();
      const bySite = new Map<string, InventorySample[]>();
      for (const sample of samples) bySite.set(sample.site, [...(bySite.get(sample.site) ?? []), sample]);
      for (const [site, list] of bySite) {
        const args: string[] = [];
        const byVm = new Map(list.map((s) => [s.vm, s]));
        for (const s of list) {
          const target = map.get(s.vm);
          const beyond = target !== undefined && s.rpoSec !== null && s.rpoSec * 1000 > target.rpoMs;
          args.push(s.vm, s.health === 'Critical' ? '1' : '0', beyond ? '1' : '0');
        }
        const changed = (await redis.eval(
          TRANSITIONS,
          1,
          `${prefix}:notify:vm:${site}`,
          ...args,
        )) as string[];
        for (const entry of changed) {
          const [vm = '', what] = entry.split('|');
          const sample = byVm.get(vm);
          if (sample === undefined) continue;
          const at = new Date(sample.at).toISOString();
          const event: NotificationEvent =
            what === 'c'
              ? {
                  type: 'health.critical',
                  occurrence: `${site}/${vm}/${sample.receivedAt}`,
                  at,
                  subject: { site, vm },
                  summary: `VM ${vm} at ${site}: replication health Critical`,
                  details: { health: sample.health, rpoSec: sample.rpoSec },
                }
              : rpoEvent(site, sample, map.get(vm), at);
          await options.notify(event);
        }
      }
    },
  };
}

function rpoEvent(
  site: string,
  sample: InventorySample,
  target: { plan: string; rpoMs: number } | undefined,
  at: string,
): NotificationEvent {
  const rpoSec = Math.round(sample.rpoSec ?? 0);
  const targetSec = Math.round((target?.rpoMs ?? 0) / 1000);
  return {
    type: 'rpo.beyond-target',
    occurrence: `${site}/${sample.vm}/${sample.receivedAt}`,
    at,
    subject: { site, vm: sample.vm, ...(target === undefined ? {} : { plan: target.plan }) },
    summary: `VM ${sample.vm} at ${site}: RPO ${rpoSec}s beyond the ${targetSec}s target of plan ${target?.plan ?? '?'}`,
    details: { rpoSec: sample.rpoSec, targetSec: (target?.rpoMs ?? 0) / 1000, health: sample.health },
  };
}

async function loadTargets(
  redis: Redis,
  prefix: string,
  reader: ReturnType<typeof createPlanReader>,
): Promise<RpoTargets> {
  const map = new Map<string, { plan: string; rpoMs: number }>();
  for (const { name, latest } of await listPlans(redis, prefix)) {
    const plan = await reader(name, latest.hash).catch(() => undefined);
    const rpoMs = plan?.targets.rpoMs;
    if (plan === undefined || rpoMs === undefined) continue;
    for (const vm of plan.vms) {
      const known = map.get(vm.name);
      if (known === undefined || rpoMs < known.rpoMs) map.set(vm.name, { plan: name, rpoMs });
    }
  }
  return map;
}
