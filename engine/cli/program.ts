import { Command } from 'commander';
import { registerAgentCommand } from './agent-command.ts';
import { registerArbiterCommand } from './arbiter-command.ts';
import { registerAutoCommands } from './auto-command.ts';
import { registerLifecycleCommands } from './lifecycle-commands.ts';
import { registerLocksCommand } from './locks-command.ts';
import { registerNotifyCommand } from './notify-command.ts';
import { registerOperatorCommands } from './operator-commands.ts';
import { registerPeopleCommands, registerTokenOption } from './people-commands.ts';
import { registerPlanCommands } from './plan-commands.ts';
import { registerPreflightCommand } from './preflight-command.ts';
import { registerProtectCommand } from './protect-command.ts';
import { registerReportCommand } from './report-command.ts';
import { registerRunCommands } from './run-commands.ts';
import { registerServeCommand } from './serve-command.ts';
import { registerCaOption } from './server-option.ts';
import { registerSimCommands } from './sim-commands.ts';
import { registerUpCommand } from './up/index.ts';
import { registerVaultCommands } from './vault-commands.ts';
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
    .showHelpAfterError()
    .addHelpText(
      'after',
      [
        '',
        'Environment:',
        "  REDIS_URL          the vault's Redis (drctl serve, demo; for the other commands, the older direct path when DR_SERVER is unset)",
        "  DR_SERVER          the control plane's URL (`drctl up`, `drctl serve`; instead of --server): drill, failover, cleanup, status, events, approve, preflight, commit, cancel, change-point, reprotect, failback, step and locks go through it, without REDIS_URL or --sim",
        '  DR_TOKEN           the API token for the control plane (instead of --token; default: the one `drctl up` wrote for its server)',
        "  DR_SIM_URL         the sites' host endpoint, today `drctl sim serve` (instead of --sim)",
        '  DR_SCRIPT_CATALOG  the folder recovery scripts are served from (drctl serve, agent, up, worker)',
        '  DR_LEASE_MS        how long an orchestrator holds an execution without renewing (drctl serve, orchestrator)',
        '  XDG_STATE_HOME     where drctl.log keeps the details of an unexpected error',
      ].join('\n'),
    );
  registerPlanCommands(program);
  registerSimCommands(program);
  registerRunCommands(program);
  registerPreflightCommand(program);
  registerProtectCommand(program);
  registerLocksCommand(program);
  registerNotifyCommand(program);
  registerWorkerCommand(program);
  registerServeCommand(program);
  registerAgentCommand(program);
  registerArbiterCommand(program);
  registerOperatorCommands(program);
  registerLifecycleCommands(program);
  registerUpCommand(program);
  registerReportCommand(program);
  registerVaultCommands(program);
  registerAutoCommands(program);
  registerPeopleCommands(program);
  registerTokenOption(program);
  registerCaOption(program);
  return program;
}
