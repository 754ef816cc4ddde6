/** engine/cli/up: `drctl up`, the whole system under one supervisor. */
export { registerUpCommand } from './up-command.ts';
