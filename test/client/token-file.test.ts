/**
 * The admin token `drctl up` writes for its local user (issue 12): never through a symlink or into
 * a folder another may have planted, always 0600; and no token goes over plain http to another
 * machine.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bearerHeader, writeUpToken } from '../../engine/client/index.ts';
import { drctl } from '../cli/support.ts';
import { useTempDirs } from '../support/temp.ts';

const temp = useTempDirs();

describe("up's admin token file", () => {
  it('is refused when a symlink stands in its place, and what it points to is left alone', () => {
    const state = temp('drorch-state-');
    const elsewhere = join(temp('drorch-elsewhere-'), 'stolen.json');
    writeFileSync(elsewhere, 'untouched\n');
    mkdirSync(join(state, 'drorch', 'up'), { recursive: true, mode: 0o700 });
    symlinkSync(elsewhere, join(state, 'drorch', 'up', 'token.json'));
    expect(() => writeUpToken('https://127.0.0.1:7080', 'drt_secret', { XDG_STATE_HOME: state })).toThrow(
      /refusing to write the admin token to .*token\.json: it is a symbolic link/,
    );
    expect(readFileSync(elsewhere, 'utf8')).toBe('untouched\n');
  });

  it('is refused when its folder is a symlink', () => {
    const state = temp('drorch-state-');
    const real = temp('drorch-real-');
    mkdirSync(join(state, 'drorch'), { recursive: true });
    symlinkSync(real, join(state, 'drorch', 'up'));
    expect(() => writeUpToken('https://127.0.0.1:7080', 'drt_secret', { XDG_STATE_HOME: state })).toThrow(
      /into .*up: it is a symbolic link/,
    );
  });

  it('is refused in a folder others may write to', () => {
    const state = temp('drorch-state-');
    mkdirSync(join(state, 'drorch', 'up'), { recursive: true });
    chmodSync(join(state, 'drorch', 'up'), 0o777);
    expect(() => writeUpToken('https://127.0.0.1:7080', 'drt_secret', { XDG_STATE_HOME: state })).toThrow(
      /writable by others/,
    );
  });

  it('is 0600 even over a file that was readable by others', () => {
    const state = temp('drorch-state-');
    const dir = join(state, 'drorch', 'up');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(
      join(dir, 'token.json'),
      'a much longer old content than the token record would be '.repeat(9),
    );
    chmodSync(join(dir, 'token.json'), 0o644);
    const file = writeUpToken('https://127.0.0.1:7080', 'drt_secret', { XDG_STATE_HOME: state });
    expect(file).toBe(join(dir, 'token.json'));
    expect(statSync(join(dir, 'token.json')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'token.json'), 'utf8'))).toMatchObject({ token: 'drt_secret' });
  });
});

describe('a token over plain http', () => {
  it('is refused to another machine, sent over https or to loopback', () => {
    expect(() => bearerHeader('http://192.0.2.10:7080', 'drt_x')).toThrow(
      'refusing to send an API token over plain http to 192.0.2.10:7080',
    );
    expect(() => bearerHeader('http://control.example:7080', 'drt_x')).toThrow(/plain http/);
    expect(bearerHeader('https://192.0.2.10:7080', 'drt_x')).toEqual({ authorization: 'Bearer drt_x' });
    for (const local of ['http://127.0.0.1:7080', 'http://localhost:7080', 'http://[::1]:7080'])
      expect(bearerHeader(local, 'drt_x')).toEqual({ authorization: 'Bearer drt_x' });
    expect(bearerHeader('http://192.0.2.10:7080', undefined)).toEqual({});
  });

  it('the CLI says so in one line, exit 2, before it connects', async () => {
    const run = await drctl(['token', 'list', '--server', 'http://192.0.2.10:7080', '--token', 'drt_x']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "drctl: refusing to send an API token over plain http to 192.0.2.10:7080: it would cross the network in clear; use the control plane's https URL (`drctl serve` prints it)\n",
    );
  }, 30_000);
});
