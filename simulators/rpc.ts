import { z } from 'zod';
import type { HyperVApi } from './api.ts';
import type { SimControl } from './control.ts';

/**
 * The wire protocol: one route per operation, `POST /api/<op>` with `{"args": [...]}`, answered
 * with `{"result": ...}` or, on failure, `{code, message, retryable, details}` and a status that
 * matches the code. Arguments are parsed with these schemas before they reach the world.
 */

const name = z.string().min(1).max(200);
const mutation = { site: name, vm: name, epoch: z.number().int().nonnegative() };
const attachment = z.object({ network: name, ip: z.string().max(64).optional() });
const selector = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('latest') }),
  z.object({ kind: z.literal('latestProcessed') }),
  z.object({ kind: z.literal('latestAppConsistent') }),
  z.object({ kind: z.literal('at'), at: z.string() }),
  z.object({ kind: z.literal('id'), id: z.string() }),
]);
const probe = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('tcp'), port: z.number().int() }),
  z.object({ kind: z.literal('http'), port: z.number().int(), path: z.string() }),
]);

export const faultActionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('host-crash'), site: name, host: name }).strict(),
  z.object({ kind: z.literal('host-up'), site: name, host: name }).strict(),
  z.object({ kind: z.literal('site-power'), site: name, state: z.enum(['off', 'on']) }).strict(),
  z.object({ kind: z.literal('link'), from: name, to: name, state: z.enum(['down', 'up']) }).strict(),
  z
    .object({
      kind: z.literal('boot'),
      vm: name,
      site: name.optional(),
      mode: z.enum(['slow', 'fail', 'normal']),
      factor: z.number().positive().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('throttle'),
      from: name,
      to: name,
      bandwidthBytesPerSec: z.number().positive(),
    })
    .strict(),
]);

export const rpcArgs = {
  now: z.tuple([]),
  listSites: z.tuple([]),
  listHosts: z.tuple([name]),
  listNetworks: z.tuple([name]),
  listVMs: z.tuple([name]),
  getVM: z.tuple([name, name]),
  getRecoveryPoints: z.tuple([name, name]),
  measureVMReplication: z.tuple([name, name]),
  waitForHeartbeat: z.tuple([name, name, z.number().nonnegative()]),
  probe: z.tuple([name, name, probe]),
  startVM: z.tuple([z.object(mutation)]),
  stopVM: z.tuple([z.object({ ...mutation, turnOff: z.boolean().optional() })]),
  startVMFailover: z.tuple([
    z.object({
      ...mutation,
      mode: z.enum(['prepare', 'failover', 'test']),
      recoveryPoint: selector.optional(),
      testNetwork: attachment.optional(),
    }),
  ]),
  stopVMFailover: z.tuple([z.object({ ...mutation, test: z.boolean().optional() })]),
  completeVMFailover: z.tuple([z.object(mutation)]),
  reverseVMReplication: z.tuple([z.object(mutation)]),
  resyncVMReplication: z.tuple([z.object(mutation)]),
  suspendVMReplication: z.tuple([z.object(mutation)]),
  resumeVMReplication: z.tuple([z.object(mutation)]),
  connectVMNetwork: z.tuple([z.object({ ...mutation, network: name, ip: z.string().max(64).optional() })]),
  fenceVM: z.tuple([z.object(mutation)]),
  setVMAutomaticStartAction: z.tuple([
    z.object({ ...mutation, action: z.enum(['Nothing', 'StartIfRunning', 'Start']) }),
  ]),
  armGuard: z.tuple([
    z.object({
      site: name,
      host: name,
      vms: z.array(name).max(10_000),
      timeoutMs: z.number().positive().max(86_400_000),
    }),
  ]),
  renewGuard: z.tuple([z.object({ site: name, host: name })]),
  disarmGuard: z.tuple([z.object({ site: name, host: name })]),
  guardStatus: z.tuple([name, name]),
  truth: z.tuple([]),
  fault: z.tuple([faultActionSchema]),
  advance: z.tuple([z.number().nonnegative()]),
  writeCanary: z.tuple([name, name, z.string().max(4096)]),
  readCanary: z.tuple([name, name, z.number().int().nonnegative()]),
  replicationSeqs: z.tuple([name, name]),
} as const;

export type RpcOp = keyof typeof rpcArgs & keyof (HyperVApi & SimControl);

export const RPC_OPS: readonly RpcOp[] = Object.keys(rpcArgs) as RpcOp[];

export function isRpcOp(op: string): op is RpcOp {
  return Object.hasOwn(rpcArgs, op);
}
