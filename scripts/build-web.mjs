#!/usr/bin/env node
/**
 * Builds the dashboard (web/ into web/dist, which the control plane serves at `/`): the web/
 * typecheck, then Vite. Run by `npm ci` (package.json's prepare) and `npm run build:web`. An
 * install without devDependencies (`npm ci --omit=dev`, the Dockerfile's) has no Vite: it says so
 * and builds nothing, and the control plane then says the dashboard is not built.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const require = createRequire(join(root, 'package.json'));

function resolves(name) {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

if (!existsSync(join(web, 'index.html'))) {
  console.error('build-web: no web/ here (an image stage without it): nothing to build');
  process.exit(0);
}
if (!resolves('vite') || !resolves('preact')) {
  console.error(
    'build-web: vite is not installed (an install without devDependencies): the dashboard is not built',
  );
  process.exit(0);
}
const started = Date.now();
const bin = (name) => join(root, 'node_modules', '.bin', name);
execFileSync(bin('tsc'), ['--noEmit', '-p', web], { stdio: 'inherit', cwd: root });
execFileSync(bin('vite'), ['build', '--logLevel', 'warn', '--config', join(web, 'vite.config.ts')], {
  stdio: 'inherit',
  cwd: web,
});
console.error(`build-web: web/dist built in ${Date.now() - started} ms`);
