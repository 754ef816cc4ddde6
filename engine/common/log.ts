import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The engine's logger: pino JSON by default, pretty on a TTY. Bind `execution`, `step`, `site`,
 * `vm` with `logger.child({...})`. LOG_LEVEL sets the level (default info; `silent` in tests).
 */
export function createLogger(name: string, options: { level?: string; pretty?: boolean } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (process.stderr.isTTY === true && process.env.LOG_FORMAT !== 'json');
  if (pretty) {
    return pino({
      name,
      level,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: true, ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ name, level }, pino.destination(2));
}
