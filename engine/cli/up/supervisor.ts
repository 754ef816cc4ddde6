/**
 * Supervises a set of processes given as data: stages of ProcessSpecs started in order (a stage's
 * processes at once, the next stage once all of them printed their ready line), each restarted
 * with backoff when it dies, and all stopped in reverse order: SIGTERM to each process group, a
 * bounded grace, then SIGKILL of the group. Nothing it started outlives it: an exit of the
 * supervisor kills every group, and on Linux a SIGKILL of it reaches them through the kernel's
 * parent-death signal (child.ts).
 */
import { join } from 'node:path';
import { DrError } from '../../common/index.ts';
import {
  type ExitInfo,
  logTail,
  type ProcessSpec,
  type Spawned,
  signalGroup,
  spawnProcess,
} from './child.ts';

export interface SupervisorOptions {
  /** The folder of the log files, one `<name>.log` a process (it must exist). */
  logs: string;
  /**
   * Restart a process that dies. Off, a dead process stays down (what fault tests need).
   * @defaultValue true
   */
  restart?: boolean;
  /** How long a stopping process may take after SIGTERM before its group is SIGKILLed. @defaultValue 15000 */
  graceMs?: number;
  /** How long a process may take to print its ready line. @defaultValue 60000 */
  startTimeoutMs?: number;
  /** The first wait before a restart; it doubles with every failure in a row. @defaultValue 500 */
  backoffMs?: number;
  /** The longest wait before a restart. @defaultValue 30000 */
  maxBackoffMs?: number;
  /** A run this long is not a failure in a row: the next restart waits `backoffMs` again. @defaultValue 60000 */
  stableMs?: number;
  /** Called on every exit, failed restart and restart, in order. */
  onEvent?: (event: SupervisorEvent) => void;
}

export type SupervisorEvent =
  | {
      event: 'exited';
      name: string;
      pid: number | undefined;
      code: number | null;
      signal: string | null;
      /** Whether a restart follows, and after how long. */
      restarting: boolean;
      inMs?: number;
    }
  | { event: 'restart-failed'; name: string; reason: string }
  | { event: 'restarted'; name: string; pid: number | undefined; restarts: number };

export type ProcessState = 'starting' | 'running' | 'restarting' | 'down' | 'stopped';

/** What the supervisor knows of one process. */
export interface ProcessStatus {
  name: string;
  pid: number | undefined;
  state: ProcessState;
  restarts: number;
  log: string;
  /** What its last ready line reported. */
  ready: Record<string, unknown> | undefined;
}

/** A process of the set did not get to its ready line: exit 1, naming it, with its log's tail. */
export class ProcessStartError extends DrError {
  constructor(name: string, reason: string, log: string) {
    const tail = logTail(log);
    super(
      'UP_START_FAILED',
      `${name} did not start: it ${reason}; its log is ${log}${tail ? `, ending:\n${tail}` : ''}`,
      { details: { name, log } },
    );
    this.name = 'ProcessStartError';
  }
}

interface Supervised {
  spec: ProcessSpec;
  log: string;
  run: Spawned;
  state: ProcessState;
  restarts: number;
  startedAt: number;
  ready: Record<string, unknown> | undefined;
}

export class Supervisor {
  private readonly stages: Supervised[][] = [];
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly wakeUps = new Set<() => void>();
  private readonly options: Required<Omit<SupervisorOptions, 'onEvent'>> & Pick<SupervisorOptions, 'onEvent'>;
  private readonly killOnExit = (): void => this.kill();

  constructor(options: SupervisorOptions) {
    this.options = {
      restart: true,
      graceMs: 15_000,
      startTimeoutMs: 60_000,
      backoffMs: 500,
      maxBackoffMs: 30_000,
      stableMs: 60_000,
      ...options,
    };
    process.once('exit', this.killOnExit);
  }

  /** Start one stage's processes at once; resolves when all are ready, throws the first that is not. */
  async startStage(specs: readonly ProcessSpec[]): Promise<void> {
    if (this.stopping) return;
    const stage = specs.map((spec): Supervised => {
      const log = join(this.options.logs, `${spec.name}.log`);
      return {
        spec,
        log,
        run: spawnProcess(spec, log, this.options.startTimeoutMs),
        state: 'starting',
        restarts: 0,
        startedAt: Date.now(),
        ready: undefined,
      };
    });
    this.stages.push(stage);
    const results = await Promise.allSettled(
      stage.map(async (p) => {
        p.ready = await p.run.ready;
        p.state = 'running';
        void this.watch(p);
      }),
    );
    if (this.stopping) return;
    for (const [i, result] of results.entries()) {
      if (result.status === 'rejected') {
        const p = stage[i]!;
        p.state = 'down';
        throw new ProcessStartError(p.spec.name, (result.reason as Error).message, p.log);
      }
    }
  }

  status(): ProcessStatus[] {
    return this.stages.flat().map((p) => ({
      name: p.spec.name,
      pid: p.run.pid,
      state: p.state,
      restarts: p.restarts,
      log: p.log,
      ready: p.ready,
    }));
  }

  /** Stop everything, last stage first (a stage's processes at once); the same promise every call. */
  stop(): Promise<void> {
    this.stopping = true;
    for (const wake of this.wakeUps) wake();
    this.stopped ??= (async () => {
      for (const stage of [...this.stages].reverse()) {
        await Promise.all(stage.map((p) => this.stopOne(p)));
      }
      process.off('exit', this.killOnExit);
    })();
    return this.stopped;
  }

  /** SIGKILL every process group now (a second Ctrl-C, an exit without stop). */
  kill(): void {
    this.stopping = true;
    for (const p of this.stages.flat()) if (!p.run.exited()) signalGroup(p.run.pid, 'SIGKILL');
  }

  private async stopOne(p: Supervised): Promise<void> {
    if (!p.run.exited()) {
      signalGroup(p.run.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        p.run.exit,
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.options.graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    // The leader outran its grace, or left something of its group behind: neither stays.
    signalGroup(p.run.pid, 'SIGKILL');
    await p.run.exit;
    p.state = 'stopped';
  }

  /** After a process is ready: on every exit, restart it with backoff (or leave it down). */
  private async watch(p: Supervised): Promise<void> {
    let failures = 0;
    for (;;) {
      const exit: ExitInfo = await p.run.exit;
      if (this.stopping) return;
      if (Date.now() - p.startedAt >= this.options.stableMs) failures = 0;
      const restarting = this.options.restart;
      const inMs = this.backoff(failures);
      this.emit({
        event: 'exited',
        name: p.spec.name,
        pid: p.run.pid,
        code: exit.code,
        signal: exit.signal,
        restarting,
        ...(restarting ? { inMs } : {}),
      });
      if (!restarting) {
        p.state = 'down';
        return;
      }
      p.state = 'restarting';
      for (;;) {
        await this.sleep(this.backoff(failures++));
        if (this.stopping) return;
        p.run = spawnProcess(p.spec, p.log, this.options.startTimeoutMs);
        p.startedAt = Date.now();
        try {
          p.ready = await p.run.ready;
          break;
        } catch (error) {
          if (this.stopping) return;
          this.emit({ event: 'restart-failed', name: p.spec.name, reason: (error as Error).message });
          await p.run.exit;
        }
      }
      p.state = 'running';
      p.restarts++;
      this.emit({ event: 'restarted', name: p.spec.name, pid: p.run.pid, restarts: p.restarts });
    }
  }

  private backoff(failures: number): number {
    return Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** failures);
  }

  /** A wait that a stop cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakeUps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakeUps.add(wake);
    });
  }

  private emit(event: SupervisorEvent): void {
    this.options.onEvent?.(event);
  }
}
