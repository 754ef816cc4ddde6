import { Command, CommanderError } from 'commander';
import { DrError } from '../common/index.ts';
import { registerLocksCommand } from '../locks/index.ts';
import { registerLifecycleCommands } from './lifecycle-commands.ts';
import { registerOperatorCommands } from './operator-commands.ts';
import { registerPlanCommands } from './plan-commands.ts';
import { registerPreflightCommand } from './preflight-command.ts';
import { registerProtectCommand } from './protect-command.ts';
import { registerRunCommands } from './run-commands.ts';
import { registerSimCommands } from './sim-commands.ts';
import { registerWorkerCommand } from './worker-command.ts';

/**
 * drctl: exit codes 0 ok, 1 failed, 2 bad input. Every command takes --json for scripts.
 * Each area registers its own commands; this file only wires them and maps errors to exit codes.
 */
const program = new Command('drctl')
  .description('Disaster-recovery orchestration for Hyper-V Replica sites')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError();

registerPlanCommands(program);
registerSimCommands(program);
registerRunCommands(program);
registerPreflightCommand(program);
registerProtectCommand(program);
registerLocksCommand(program);
registerWorkerCommand(program);
registerOperatorCommands(program);
registerLifecycleCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; usage errors are bad input.
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  if (error instanceof DrError) {
    process.stderr.write(`drctl: ${error.message}\n`);
    process.exit(error.exitCode);
  }
  process.stderr.write(`drctl: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
