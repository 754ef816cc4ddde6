import { Agent, request } from 'node:http';
import type { HyperVApi } from './api.ts';
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
}

export type SimClient = HyperVApi & SimControl & { close(): void };

/**
 * The Hyper-V API over HTTP, with the same typed errors as in-process: a failed call is re-thrown
 * as SimError with its code, retryable flag and details. Connections are kept alive and reused.
 */
export function createSimClient(target: string | SimClientOptions): SimClient {
  const options = typeof target === 'string' ? { url: target } : target;
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  const bases = new Map(Object.entries(options.siteUrls ?? {}).map(([site, u]) => [site, new URL(u)]));
  const defaultBase = new URL(options.url);

  function call<T>(op: RpcOp, args: unknown[], site?: string): Promise<T> {
    const base = (site !== undefined ? bases.get(site) : undefined) ?? defaultBase;
    const body = JSON.stringify({ args });
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          path: `/api/${op}`,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              reject(
                new SimError(
                  'SITE_UNREACHABLE',
                  `${op}: the simulator at ${base.origin} answered ${res.statusCode} with no JSON`,
                ),
              );
              return;
            }
            if (
              res.statusCode === 200 &&
              parsed !== null &&
              typeof parsed === 'object' &&
              'result' in parsed
            ) {
              resolve(parsed.result as T);
              return;
            }
            reject(toSimError(op, parsed, res.statusCode ?? 0));
          });
        },
      );
      req.on('error', (error) =>
        reject(
          new SimError(
            'SITE_UNREACHABLE',
            `${op}${site ? ` (site '${site}')` : ''}: cannot reach the simulator at ${base.origin}: ${error.message}`,
            {
              site,
            },
          ),
        ),
      );
      req.end(body);
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
    waitForHeartbeat: (site, vm, timeoutMs) => call('waitForHeartbeat', [site, vm, timeoutMs], site),
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
    truth: () => call('truth', []),
    fault: (action) => call('fault', [action]),
    advance: (ms) => call('advance', [ms]),
    writeCanary: (site, vm, payload) => call('writeCanary', [site, vm, payload], site),
    readCanary: (site, vm, seq) => call('readCanary', [site, vm, seq], site),
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
