/**
 * `npm run bench`: runs every benchmark program in bench/ in turn, each in its own process, and
 * fails when one fails. A benchmark program is a bench/*.ts file other than this one; helpers that
 * are only started by a benchmark are skipped by name: `*-server.ts`, `*-child.ts`, `_*.ts`,
 * `tmp-*.ts`. Pass names to run some: `npm run bench -- plan-compile sim-http`.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HELPER = /(-server|-child)\.ts$|^_|^tmp-/;
const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const programs = (await readdir(dir))
  .filter(
    (name) => name.endsWith('.ts') && name !== basename(fileURLToPath(import.meta.url)) && !HELPER.test(name),
  )
  .filter((name) => only.length === 0 || only.includes(name.replace(/\.ts$/, '')))
  .sort();

const failed: string[] = [];
for (const name of programs) {
  process.stdout.write(`\n=== bench/${name} ===\n`);
  const started = performance.now();
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(dir, name)], { stdio: 'inherit' });
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal === null ? 1 : 128)));
  });
  process.stdout.write(
    `=== bench/${name}: exit ${code}, ${((performance.now() - started) / 1000).toFixed(1)} s ===\n`,
  );
  if (code !== 0) failed.push(name);
}
process.stdout.write(
  `\n${programs.length - failed.length}/${programs.length} benchmarks ran${failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''}\n`,
);
process.exitCode = failed.length > 0 ? 1 : 0;
