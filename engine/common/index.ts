export { assertNever, DrError, InputError } from './errors.ts';
export { createLogger, type Logger } from './log.ts';
