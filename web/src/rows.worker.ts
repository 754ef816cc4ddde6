/**
 * Fetches an execution's VM rows and parses them here, off the main thread (rows.ts): the answer
 * goes back as columns, its typed arrays transferred, not copied.
 */
import type { FromRowsWorker, VmColumns } from './rows.ts';

interface Row {
  vm: string;
  wave: number;
  state: string;
  startedAt?: string;
}

const post = (message: FromRowsWorker<unknown>, transfer: Transferable[] = []): void =>
  (self as unknown as Worker).postMessage(message, transfer);

self.onmessage = async (message: MessageEvent<string>) => {
  try {
    const response = await fetch(message.data, {
      headers: { accept: 'application/json' },
      credentials: 'same-origin',
    });
    if (!response.ok) {
      let text = `${response.status} ${response.statusText}`;
      let code: string | undefined;
      try {
        const body = (await response.json()) as { title?: string; detail?: string; code?: string };
        text = [body.title, body.detail].filter(Boolean).join(': ') || text;
        code = body.code;
      } catch {
        // not problem+json: the status line says it
      }
      post({
        kind: 'error',
        status: response.status,
        message: text,
        ...(code === undefined ? {} : { code }),
      });
      return;
    }
    const answer = (await response.json()) as { execution: unknown; vms: Row[]; allowed: string[] };
    const rows = answer.vms;
    const states: string[] = [];
    const index = new Map<string, number>();
    const columns: VmColumns = {
      vm: new Array<string>(rows.length),
      wave: new Int32Array(rows.length),
      state: new Uint8Array(rows.length),
      states,
      startedAt: new Float64Array(rows.length),
    };
    rows.forEach((row, i) => {
      columns.vm[i] = row.vm;
      columns.wave[i] = row.wave;
      let code = index.get(row.state);
      if (code === undefined) {
        code = states.length;
        states.push(row.state);
        index.set(row.state, code);
      }
      columns.state[i] = code;
      columns.startedAt[i] = row.startedAt === undefined ? Number.NaN : Date.parse(row.startedAt);
    });
    post({ kind: 'rows', execution: answer.execution, allowed: answer.allowed, columns }, [
      columns.wave.buffer,
      columns.state.buffer,
      columns.startedAt.buffer,
    ]);
  } catch (error) {
    post({ kind: 'error', status: 0, message: error instanceof Error ? error.message : String(error) });
  }
};
