import { Command } from 'commander';
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
 * The drctl command tree, without running it: main.ts parses argv with it, and tests read it (every
 * `--flag` a hint suggests must exist on the command it names). Each area registers its own commands.
 */
export function buildProgram(): Command {
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
  return program;
}
