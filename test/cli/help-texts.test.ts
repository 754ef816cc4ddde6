/**
 * Help texts describe the product as it is: a control plane (`drctl serve`) and one agent a site
 * (`drctl agent`), with the older direct path (REDIS_URL, `drctl worker`, `drctl orchestrator`)
 * said to be that. Regression: `drctl --help` said `up` runs "the control side and one worker a
 * site", and every `--sim` said "required unless DR_SIM_URL is set" on commands that go through
 * the control plane, which reads the sites itself and refuses --sim.
 */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../engine/cli/program.ts';

const program = buildProgram();

function allCommands(command: Command, path: string[] = []): Array<{ path: string; command: Command }> {
  return command.commands.flatMap((c) => [
    { path: [...path, c.name()].join(' '), command: c },
    ...allCommands(c, [...path, c.name()]),
  ]);
}

/** The processes of the direct path, whose own help may speak of workers and orchestrators. */
const DIRECT_PROCESSES = new Set(['worker', 'orchestrator']);

describe('the help of drctl', () => {
  it('says up runs the control plane and one agent a site, not workers', () => {
    const up = program.commands.find((c) => c.name() === 'up');
    expect(up?.description()).toMatch(/control plane .*one agent a site/);
    expect(up?.description()).not.toMatch(/worker/i);
  });

  it('tells no one to start workers or an orchestrator outside their own commands', () => {
    const telling = allCommands(program)
      .filter(({ path }) => !DIRECT_PROCESSES.has(path))
      .flatMap(({ path, command }) =>
        [command.description(), ...command.options.map((o) => o.description)]
          .filter((text) => /\bworkers?\b|drctl orchestrator|drctl worker/i.test(text))
          .map((text) => `${path}: ${text}`),
      );
    expect(telling).toEqual([]);
  });

  it('says worker and orchestrator are the direct path and names what replaces them', () => {
    for (const [name, instead] of [
      ['worker', /drctl agent/],
      ['orchestrator', /drctl serve/],
    ] as const) {
      const description = program.commands.find((c) => c.name() === name)?.description() ?? '';
      expect(description).toMatch(/^Direct path:/);
      expect(description).toMatch(instead);
    }
  });

  it('says --sim is the direct path on every command that can also go through the control plane', () => {
    const both = allCommands(program).filter(
      ({ command }) =>
        command.options.some((o) => o.long === '--server') && command.options.some((o) => o.long === '--sim'),
    );
    expect(both.map((b) => b.path)).toEqual(
      expect.arrayContaining(['drill', 'failover', 'preflight', 'protect']),
    );
    for (const { path, command } of both) {
      const sim = command.options.find((o) => o.long === '--sim');
      expect(sim?.description, path).toMatch(/^direct path only .*never with --server or DR_SERVER/);
      expect(sim?.description, path).not.toMatch(/required/);
    }
  });

  it("says the agent's --hosts is required, as the agent talks to the hosts itself", () => {
    const agent = program.commands.find((c) => c.name() === 'agent');
    const hosts = agent?.options.find((o) => o.long === '--hosts');
    expect(hosts?.mandatory).toBe(true);
    expect(hosts?.description).toMatch(/required unless DR_SIM_URL is set/);
  });
});
