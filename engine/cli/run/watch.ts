/**
 * Live progress of an execution: on a TTY one status line kept up to date (steps done of total,
 * current wave, wall time since submit, the plan's estimate in simulated time) under the timeline;
 * elsewhere plain lines. The two are different clocks and are not compared, unless the sites'
 * clock speed is known (`speed`): then the estimate is also given in wall time.
 */
import type { ExecutionClient, ExecutionView } from '../../client/index.ts';
import { formatElapsed } from '../../common/index.ts';
import { TIMELINE_CLOCKS, timelineLine } from '../../report/index.ts';
import { whileFollowing } from './interrupt.ts';

export interface WatchOptions {
  /** Print the timeline as events arrive. @defaultValue true when the plan has at most 60 VMs */
  timeline?: boolean;
  /** Where lines go. @defaultValue process.stdout */
  out?: NodeJS.WriteStream;
  /** Statuses that end the watch. @defaultValue every status but submitted/running */
  until?: readonly string[];
  /** Print a hint when nothing picks the execution up for this long. @defaultValue 5000 */
  orchestratorHintMs?: number;
  /**
   * Explain Ctrl-C (the run goes on in the engine: how to follow or stop it) and exit 130; the
   * prefix goes into the commands shown. Not for the demo, whose engine lives in its own process.
   */
  explainInterrupt?: { prefix: string };
  /** Simulated ms per wall ms of the sites' clock, when known (the demo's own world). */
  speed?: number;
}

const SETTLED = ['awaiting-cleanup', 'cleaning-up', 'cleaned-up', 'completed', 'failed', 'cancelled'];

/**
 * `elapsed`: wall time since submit (what the achieved RTO counts). `estimate`: the plan's step
 * estimates, simulated time; with a known `speed` also its wall equivalent.
 */
export function progressLine(view: ExecutionView, nowMs: number, speed?: number): string {
  const submitted = Date.parse(view.createdAt);
  const started = Number.isNaN(submitted) ? (view.startedAt ? Date.parse(view.startedAt) : nowMs) : submitted;
  const ended = view.finishedAt ? Date.parse(view.finishedAt) : nowMs;
  const wave =
    view.waves !== undefined && view.currentWave !== undefined
      ? `  wave ${Math.min(view.currentWave + 1, view.waves)}/${view.waves}`
      : '';
  let estimate = '';
  if (view.estimateMs !== undefined) {
    const wall = speed ? ` ≈ ${formatElapsed(view.estimateMs / speed)} wall at ${speed}×` : '';
    estimate = `; estimate ${formatElapsed(view.estimateMs)} simulated${wall}`;
  }
  return `${view.id}  ${view.status.padEnd(16)} ${view.stepsDone}/${view.stepsTotal} steps${wave}  elapsed ${formatElapsed(Math.max(0, ended - started))} wall${estimate}`;
}

/** What a watch reads: an execution and its events (in process or from the control plane). */
export type WatchedClient = Pick<ExecutionClient, 'get' | 'events'>;

export async function watchExecution(
  client: WatchedClient,
  id: string,
  options: WatchOptions = {},
): Promise<ExecutionView> {
  const explain = options.explainInterrupt;
  if (explain === undefined) return await watch(client, id, options);
  const followed: { id: string; type?: string; prefix: string } = { id, prefix: explain.prefix };
  return await whileFollowing(followed, () =>
    watch(client, id, options, (type) => {
      followed.type = type;
    }),
  );
}

async function watch(
  client: WatchedClient,
  id: string,
  options: WatchOptions,
  typeKnown: (type: string) => void = () => {},
): Promise<ExecutionView> {
  const out = options.out ?? process.stdout;
  const tty = out.isTTY === true;
  const until = options.until ?? SETTLED;
  let view = await client.get(id);
  typeKnown(view.type);
  const small = view.stepsTotal <= 5000;
  const timeline = options.timeline ?? view.stepsTotal <= 400;
  const controller = new AbortController();
  let statusShown = false;
  const clearStatus = (): void => {
    if (tty && statusShown) out.write('\r\x1b[K');
    statusShown = false;
  };
  const startMs = Date.parse(view.createdAt);
  const events = timeline
    ? (async () => {
        out.write(`(${TIMELINE_CLOCKS})\n`);
        for await (const stored of client.events(id, { follow: true, signal: controller.signal })) {
          clearStatus();
          out.write(`${timelineLine(stored, startMs)}\n`);
        }
      })().catch(() => {})
    : Promise.resolve();
  const submittedAt = Date.now();
  let hinted = false;
  let lastPrinted = '';
  let lastPlainAt = 0;
  try {
    for (;;) {
      view = await client.get(id, { vms: small });
      const line = progressLine(view, Date.now(), options.speed);
      if (tty) {
        clearStatus();
        out.write(line);
        statusShown = true;
      } else if (!timeline && view.stepsDone !== Number(lastPrinted) && Date.now() - lastPlainAt >= 1000) {
        out.write(`${line}\n`);
        lastPrinted = String(view.stepsDone);
        lastPlainAt = Date.now();
      }
      if (until.includes(view.status)) break;
      if (
        !hinted &&
        view.status === 'submitted' &&
        Date.now() - submittedAt > (options.orchestratorHintMs ?? 5000)
      ) {
        clearStatus();
        out.write(
          `no orchestrator has picked ${id} up yet: is \`drctl orchestrator\` running against this Redis and prefix?\n`,
        );
        hinted = true;
      }
      await new Promise((r) => setTimeout(r, tty ? 200 : 250));
    }
  } finally {
    await Promise.race([events, new Promise((r) => setTimeout(r, 1500))]);
    controller.abort();
    clearStatus();
  }
  out.write(`${progressLine(view, Date.now(), options.speed)}\n`);
  return view;
}
