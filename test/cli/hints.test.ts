/**
 * Hints only suggest what exists: every `drctl <command> ... --flag` the engine prints (errors,
 * refusals, status lines, command descriptions) and every `npx drctl` line of the README names a
 * real command with real flags, and every `--flag` a pre-flight finding suggests exists on each
 * command that shows pre-flight findings (drill, failover, preflight). Regression: a finding said
 * "--recovery-point latest" to drill users (drill had no such flag) and "fail back with
 * --direction failback" (no command has it; `drctl failback` does that).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../engine/cli/program.ts';

const program = buildProgram();

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Lines of code (not comments), with template expressions `${...}` as a placeholder word. */
function codeLines(file: string): Array<{ where: string; text: string }> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((text, i) => ({ where: `${file}:${i + 1}`, text: text.replace(/\$\{[^}]*\}/g, 'X') }))
    .filter(({ text }) => !/^\s*(\*|\/\/|\/\*)/.test(text));
}

/**
 * The commands a `drctl a b c ...` snippet names: the longest chain of subcommand names; a
 * placeholder (`drctl step ${command} ...`) where a subcommand goes stands for any of them.
 */
function resolve(words: string[]): { commands: readonly Command[]; path: string[] } {
  let command = program;
  const path: string[] = [];
  for (const raw of words) {
    const word = raw.replace(/^\[|[\]:,.)]+$/g, '');
    if (word === 'X' && command !== program && command.commands.length > 0)
      return {
        commands: command.commands,
        path: [...path, `<${command.commands.map((c) => c.name()).join('|')}>`],
      };
    const alternatives = word.split('|');
    const next = command.commands.find(
      (c) =>
        alternatives.every((a) => c.name() === a || c.aliases().includes(a)) || c.name() === alternatives[0],
    );
    if (next === undefined) break;
    command = next;
    path.push(next.name());
  }
  return { commands: [command], path };
}

/** Long flags a command accepts: its own, its parents' (commander's optsWithGlobals), --help. */
function flagsOf(command: Command): Set<string> {
  const flags = new Set(['--help']);
  for (let c: Command | null = command; c !== null; c = c.parent) {
    for (const option of c.options) if (option.long) flags.add(option.long);
  }
  if (command === program) flags.add('--version');
  return flags;
}

interface Mention {
  where: string;
  snippet: string;
}

/** Each `drctl ...` snippet of a line, up to its end (quote, backtick, `;`) or the next `drctl `. */
function drctlSnippets(where: string, text: string, marker = /(?<![\w-])drctl /g): Mention[] {
  const out: Mention[] = [];
  const starts = [...text.matchAll(marker)].map((m) => (m.index ?? 0) + m[0].length);
  starts.forEach((start, i) => {
    const until = starts[i + 1] ?? text.length;
    const rest = text.slice(start, until);
    // A command ends at a quote, a semicolon, a backslash or a closing tag (`<code>drctl up</code>`).
    const end = rest.search(/[`'";\\]|<\//);
    out.push({ where, snippet: end === -1 ? rest : rest.slice(0, end) });
  });
  return out;
}

/** Prose that says "drctl" without naming a command ("upgrade drctl to read it", "drctl ${argv}"). */
const PROSE = new Set(['X', 'to']);

function unknownFlags(mention: Mention): string[] {
  const words = mention.snippet.trim().split(/\s+/);
  const { commands, path } = resolve(words);
  if (path.length === 0)
    return PROSE.has(words[0] ?? 'X')
      ? []
      : [`${mention.where}: "drctl ${mention.snippet.trim()}" names no command`];
  const flags = [...mention.snippet.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]);
  return flags
    .filter((flag) => commands.every((command) => !flagsOf(command).has(flag)))
    .map(
      (flag) =>
        `${mention.where}: drctl ${path.join(' ')} has no ${flag} ("drctl ${mention.snippet.trim()}")`,
    );
}

describe('hints name commands and flags that exist', () => {
  it('every `drctl <command> --flag` in the engine and the simulators', () => {
    const mentions = [...sourceFiles('engine'), ...sourceFiles('simulators')].flatMap((file) =>
      codeLines(file).flatMap(({ where, text }) => drctlSnippets(where, text)),
    );
    expect(mentions.length).toBeGreaterThan(20); // the scan finds the hints
    expect(mentions.flatMap(unknownFlags)).toEqual([]);
  });

  it('every `npx drctl` line of the README', () => {
    const mentions = readFileSync('README.md', 'utf8')
      .split('\n')
      .flatMap((text, i) => drctlSnippets(`README.md:${i + 1}`, text.replace(/#.*$/, ''), /npx drctl /g));
    expect(mentions.length).toBeGreaterThan(20);
    expect(mentions.flatMap(unknownFlags)).toEqual([]);
  });

  it('every --flag a pre-flight finding suggests, on drill, failover and preflight', () => {
    const flags = sourceFiles('engine/preflight/checks').flatMap((file) =>
      codeLines(file).flatMap(({ where, text }) =>
        [...text.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => ({ where, flag: m[0] })),
      ),
    );
    expect(flags.length).toBeGreaterThan(0);
    const missing = ['drill', 'failover', 'preflight'].flatMap((name) => {
      const known = flagsOf(resolve([name]).commands[0] ?? program);
      return flags
        .filter(({ flag }) => !known.has(flag))
        .map(({ where, flag }) => `${where}: drctl ${name} has no ${flag}`);
    });
    expect(missing).toEqual([]);
  });
});
