import { Agent, request } from 'node:http';
import type { HyperVApi, VmView } from './api.ts';
import type { SimControl } from './control.ts';
import { isSimErrorCode, SimError } from './errors.ts';
import type { RpcOp } from './rpc.ts';

export interface SimClientOptions {
  /** Base URL of `drctl sim serve`, e.g. http://127.0.0.1:7070 */
  url: string;
  /**
   * Per-site base URLs (e.g. through a fault-injection proxy per site): calls about a site go to
   * its URL, the rest to `url`.
   */
  siteUrls?: Record<string, string>;
  /** @defaultValue 64 */
  maxSockets?: number;
  /**
   * Send the calls made in the same tick as one `POST /api/batch` (each call still resolves or
   * fails on its own, in order). `waitForHeartbeat` long polls are never batched.
   * @defaultValue true
   */
  batch?: boolean;
  /**
   * Before a `waitForHeartbeat` long poll, read the VM with the calls of the same tick and answer at
   * once (`waitedMs: 0`) when its guest was already heard from: a site agent checking thousands of
   * VMs that booted already makes no long poll for them. The wait then starts one round trip later,
   * which only shows on a manual clock (a clock advanced meanwhile is not counted in `waitedMs`).
   * @defaultValue false
   */
  readBeforeHeartbeatWait?: boolean;
}

export type SimClient = HyperVApi & SimControl & { close(): void };

interface Pending {
  op: RpcOp;
  args: unknown[];
  site: string | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH = 500;

/**
 * The Hyper-V API over HTTP, with the same typed errors as in-process: a failed call is re-thrown
 * as SimError with its code, retryable flag and details; a call that cannot reach the simulator
 * fails with SITE_UNREACHABLE (retryable). Connections are kept alive, and calls made together
 * travel together.
 */
export function createSimClient(target: string | SimClientOptions): SimClient {
  const options = typeof target === 'string' ? { url: target } : target;
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  const bases = new Map(Object.entries(options.siteUrls ?? {}).map(([site, u]) => [site, new URL(u)]));
  const defaultBase = new URL(options.url);
  const batching = options.batch ?? true;
  const queues = new Map<URL, Pending[]>();

  function baseFor(site: string | undefined): URL {
    return (site !== undefined ? bases.get(site) : undefined) ?? defaultBase;
  }

  function unreachable(what: string, site: string | undefined, base: URL, reason: string): SimError {
    return new SimError(
      'SITE_UNREACHABLE',
      `${what}${site ? ` (site '${site}')` : ''}: cannot reach the simulator at ${base.origin}: ${reason}`,
      site === undefined ? {} : { site },
    );
  }

  /** One HTTP exchange; rejects only when no JSON answer came back. */
  function post(base: URL, path: string, payload: unknown): Promise<{ status: number; body: unknown }> {
    const body = JSON.stringify(payload);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (error) => reject(error));
          res.on('end', () => {
            try {
              resolve({
                status: res.statusCode ?? 0,
                body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
              });
            } catch {
              reject(new Error(`answered HTTP ${res.statusCode} without JSON`));
            }
          });
        },
      );
      req.on('error', (error) => reject(error));
      req.end(body);
    });
  }

  async function single<T>(op: RpcOp, args: unknown[], site: string | undefined): Promise<T> {
    const base = baseFor(site);
    let answer: { status: number; body: unknown };
    try {
      answer = await post(base, `/api/${op}`, { args });
    } catch (error) {
      throw unreachable(op, site, base, error instanceof Error ? error.message : String(error));
    }
    const { status, body } = answer;
    if (status === 200 && body !== null && typeof body === 'object' && 'result' in body)
      return body.result as T;
    throw toSimError(op, body, status);
  }

  async function flush(base: URL): Promise<void> {
    const queue = queues.get(base) ?? [];
    queues.delete(base);
    for (let i = 0; i < queue.length; i += MAX_BATCH) {
      const chunk = queue.slice(i, i + MAX_BATCH);
      if (chunk.length === 1) {
        const [p] = chunk as [Pending];
        single(p.op, p.args, p.site).then(p.resolve, p.reject);
        continue;
      }
      void sendBatch(base, chunk);
    }
  }

  async function sendBatch(base: URL, chunk: Pending[]): Promise<void> {
    let answer: { status: number; body: unknown };
    try {
      answer = await post(base, '/api/batch', { calls: chunk.map((p) => ({ op: p.op, args: p.args })) });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      for (const p of chunk) p.reject(unreachable(p.op, p.site, base, reason));
      return;
    }
    const results =
      answer.status === 200 &&
      answer.body !== null &&
      typeof answer.body === 'object' &&
      'results' in answer.body
        ? answer.body.results
        : undefined;
    if (!Array.isArray(results) || results.length !== chunk.length) {
      for (const p of chunk) p.reject(toSimError(p.op, answer.body, answer.status));
      return;
    }
    chunk.forEach((p, k) => {
      const r: unknown = results[k];
      if (r !== null && typeof r === 'object' && 'result' in r) p.resolve(r.result);
      else p.reject(toSimError(p.op, r !== null && typeof r === 'object' && 'error' in r ? r.error : r, 0));
    });
  }

  function call<T>(op: RpcOp, args: unknown[], site?: string): Promise<T> {
    if (!batching || op === 'waitForHeartbeat') return single<T>(op, args, site);
    return new Promise<T>((resolve, reject) => {
      const base = baseFor(site);
      let queue = queues.get(base);
      if (!queue) {
        queue = [];
        queues.set(base, queue);
        setImmediate(() => void flush(base));
      }
      queue.push({ op, args, site, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  return {
    now: () => call('now', []),
    listSites: () => call('listSites', []),
    listHosts: (site) => call('listHosts', [site], site),
    listNetworks: (site) => call('listNetworks', [site], site),
    listVMs: (site) => call('listVMs', [site], site),
    getVM: (site, vm) => call('getVM', [site, vm], site),
    getRecoveryPoints: (site, vm) => call('getRecoveryPoints', [site, vm], site),
    measureVMReplication: (site, vm) => call('measureVMReplication', [site, vm], site),
    waitForHeartbeat: async (site, vm, timeoutMs) => {
      // A guest already heard from needs no long poll of its own: one read, sent with the calls
      // made in the same tick, gives the same answer. Otherwise (or when the read fails, so that
      // the long poll reports why) wait on the host.
      if (batching && options.readBeforeHeartbeatWait) {
        const view = await call<VmView>('getVM', [site, vm], site).catch(() => undefined);
        if (view?.heartbeat === 'Ok') return { ok: true, waitedMs: 0 };
      }
      return await call('waitForHeartbeat', [site, vm, timeoutMs], site);
    },
    probe: (site, vm, p) => call('probe', [site, vm, p], site),
    startVM: (req) => call('startVM', [req], req.site),
    stopVM: (req) => call('stopVM', [req], req.site),
    startVMFailover: (req) => call('startVMFailover', [req], req.site),
    stopVMFailover: (req) => call('stopVMFailover', [req], req.site),
    completeVMFailover: (req) => call('completeVMFailover', [req], req.site),
    reverseVMReplication: (req) => call('reverseVMReplication', [req], req.site),
    resyncVMReplication: (req) => call('resyncVMReplication', [req], req.site),
    suspendVMReplication: (req) => call('suspendVMReplication', [req], req.site),
    resumeVMReplication: (req) => call('resumeVMReplication', [req], req.site),
    connectVMNetwork: (req) => call('connectVMNetwork', [req], req.site),
    fenceVM: (req) => call('fenceVM', [req], req.site),
    setVMAutomaticStartAction: (req) => call('setVMAutomaticStartAction', [req], req.site),
    armGuard: (req) => call('armGuard', [req], req.site),
    renewGuard: (req) => call('renewGuard', [req], req.site),
    disarmGuard: (req) => call('disarmGuard', [req], req.site),
    guardStatus: (site, host) => call('guardStatus', [site, host], site),
    truth: () => call('truth', []),
    fault: (action) => call('fault', [action]),
    advance: (ms) => call('advance', [ms]),
    writeCanary: (site, vm, payload) => call('writeCanary', [site, vm, payload], site),
    readCanary: (site, vm, seq) => call('readCanary', [site, vm, seq], site),
    replicationSeqs: (site, vm) => call('replicationSeqs', [site, vm], site),
    close: () => agent.destroy(),
  };
}

function toSimError(op: string, body: unknown, status: number): SimError {
  if (body !== null && typeof body === 'object' && 'code' in body && isSimErrorCode(body.code)) {
    const message = 'message' in body && typeof body.message === 'string' ? body.message : `${op} failed`;
    const details =
      'details' in body && body.details !== null && typeof body.details === 'object'
        ? (body.details as Record<string, unknown>)
        : {};
    return new SimError(body.code, message, details);
  }
  return new SimError('SITE_UNREACHABLE', `${op}: unexpected answer (HTTP ${status}) from the simulator`);
}
