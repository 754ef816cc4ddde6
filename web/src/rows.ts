/**
 * An execution's VM rows (`GET /executions/:id/vms`: 10,000 of them for a large plan, 1.5 MB of
 * JSON) fetched and parsed in a Web Worker (rows.worker.ts), so the main thread never parses them;
 * the worker hands them over as columns (typed arrays, the names and states as string lists),
 * which cost little to take and to fold into the timeline.
 */
import { ApiError } from './api.ts';

export interface VmColumns {
  vm: string[];
  wave: Int32Array;
  /** Index into `states`. */
  state: Uint8Array;
  states: string[];
  /** ms since the epoch, NaN when the VM has not started. */
  startedAt: Float64Array;
}

export type RowsAnswer<E> = { execution: E; allowed: string[]; columns: VmColumns };

export type FromRowsWorker<E> =
  | ({ kind: 'rows' } & RowsAnswer<E>)
  | { kind: 'error'; status: number; message: string; code?: string };

/** The rows of `path` (under /api/v1), from a worker; an answer that is not 2xx is an ApiError. */
export function fetchRows<E>(path: string): Promise<RowsAnswer<E>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./rows.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (message: MessageEvent<FromRowsWorker<E>>) => {
      worker.terminate();
      const data = message.data;
      if (data.kind === 'rows') resolve(data);
      else reject(new ApiError(data.status, data.message, data.code));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`the rows worker failed: ${event.message}`));
    };
    worker.postMessage(new URL(`/api/v1${path}`, location.href).href);
  });
}
