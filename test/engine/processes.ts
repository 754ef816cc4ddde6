/**
 * Real engine processes for fault tests: `node bin/drctl.js orchestrator|worker ...` children that
 * a test can SIGKILL at any moment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { tracked } from '../support/children.ts';

export interface EngineProcess {
  child: ChildProcess;
  /** Resolves once the process printed its ready line. */
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  output(): string;
}

export function spawnDrctl(args: string[], env: Record<string, string>): EngineProcess {
  const child = tracked(
    spawn(process.execPath, ['bin/drctl.js', ...args, '--json'], {
      env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG ?? 'silent', LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    readyResolve = resolve;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('\n')) readyResolve();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      readyResolve();
      resolve({ code, signal });
    });
  });
  return {
    child,
    ready,
    exited,
    output: () => out,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export function spawnOrchestrator(
  redisUrl: string,
  prefix: string,
  env: Record<string, string> = {},
): EngineProcess {
  return spawnDrctl(
    ['orchestrator', '--prefix', prefix, '--lease-ms', '1000', '--shutdown-timeout-ms', '2000'],
    {
      REDIS_URL: redisUrl,
      ...env,
    },
  );
}

/** A small seeded generator (mulberry32): the same seed gives the same kill moments. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
