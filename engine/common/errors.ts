/**
 * The engine's typed error family: a stable `code`, domain fields, a `retryable` flag and the CLI
 * exit code it maps to (2 for bad input, 1 for a failed operation). Errors that reach a user say
 * what was wrong, where, and what to do.
 */
export class DrError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  /** 2: bad input (plan, flags); 1: the operation failed. */
  readonly exitCode: 1 | 2;
  readonly details: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    options: {
      retryable?: boolean;
      exitCode?: 1 | 2;
      details?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DrError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.exitCode = options.exitCode ?? 1;
    this.details = options.details ?? {};
  }
}

/** Bad input from the user: a plan, a world file, a flag. Exit code 2. */
export class InputError extends DrError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, { exitCode: 2, details });
    this.name = 'InputError';
  }
}

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}

/**
 * A server's listen() that failed because the address is taken (or not ours to bind) as one line
 * that says what to do, instead of Node's error; anything else is rethrown as it was.
 */
export function listenFailure(error: unknown, host: string, port: number, what: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new DrError(
      'PORT_IN_USE',
      `${what} cannot listen on ${host}:${port}: something else listens there; stop it or give another --port (0 picks a free one)`,
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'EACCES') {
    return new DrError(
      'CANNOT_LISTEN',
      `${what} cannot listen on ${host}:${port} (${code}); give another --host or --port`,
    );
  }
  return error;
}
