import { DrError } from '../../common/index.ts';
import { type HostErrorCode, isHostErrorCode } from '../../hosts/index.ts';

/**
 * Why a step failed, with a stable code. `retryable` errors are infrastructure trouble (a host or
 * site unreachable for a moment): the job is thrown back to BullMQ, which runs it again and the
 * handlers' state checks absorb what the first run already did. Non-retryable errors are verdicts:
 * the step failed and the orchestrator applies the plan's failure policy.
 */
export class StepError extends DrError {
  readonly step: string;
  readonly vm: string | undefined;
  readonly site: string;
  /** What the step produced before it failed (a script's output), kept in the step result. */
  readonly output: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    where: { step: string; site: string; vm?: string | undefined },
    options: {
      retryable?: boolean;
      cause?: unknown;
      details?: Record<string, unknown>;
      output?: Record<string, unknown>;
    } = {},
  ) {
    const { output, ...rest } = options;
    super(code, message, { ...rest, details: { ...options.details, ...where } });
    this.name = 'StepError';
    this.step = where.step;
    this.vm = where.vm;
    this.site = where.site;
    this.output = output;
  }
}

/** The simulator's error code of `error` (in-process SimError or its HTTP twin), if it is one. */
export function simErrorCode(error: unknown): HostErrorCode | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = error.code;
  return isHostErrorCode(code) ? code : undefined;
}

/** Simulator refusals worth running the job again for: the world may look different in a moment. */
const RETRYABLE_SIM_CODES: ReadonlySet<HostErrorCode> = new Set<HostErrorCode>([
  'SITE_UNREACHABLE',
  'HOST_DOWN',
  'HOST_BOOT_LIMIT',
]);

/**
 * Turn whatever a handler threw into a StepError that names the step, VM and site. Simulator
 * errors keep their code; STALE_EPOCH is never retryable (the execution was superseded).
 */
export function toStepError(
  error: unknown,
  where: { step: string; site: string; vm?: string | undefined },
): StepError {
  if (error instanceof StepError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = simErrorCode(error);
  if (code !== undefined) {
    return new StepError(code, `${where.step} at ${where.site}: ${message}`, where, {
      retryable: RETRYABLE_SIM_CODES.has(code),
      cause: error,
    });
  }
  if (error instanceof DrError) {
    return new StepError(error.code, message, where, { retryable: error.retryable, cause: error });
  }
  // Unknown failures (a dropped HTTP connection to the simulator, a bug) are retried: the state
  // checks make a repeat harmless, and BullMQ's attempt limit bounds it.
  return new StepError('STEP_CRASHED', `${where.step} at ${where.site}: ${message}`, where, {
    retryable: true,
    cause: error,
  });
}
