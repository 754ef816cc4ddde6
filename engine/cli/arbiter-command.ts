/**
 * `drctl arbiter --port <port> --vault-ca <file>`: the optional third-site tie-breaker (engine/arbiter).
 * Run it at a third site; agents renew to it (`drctl agent --arbiter <url>`), the control plane
 * asks it (`drctl serve --arbiter <url>`). It needs only the vault's CA certificates.
 */
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { startArbiter } from '../arbiter/index.ts';
import { createLogger, DrError } from '../common/index.ts';
import { untilStopSignal } from './signals.ts';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > 65_535) {
    throw new InvalidArgumentError(`expected a port number 0-65535 (0 picks a free one), got "${value}"`);
  }
  return n;
}

/** The PEM certificates in a file, each as its own string. */
export function certificatesIn(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export function registerArbiterCommand(program: Command): void {
  program
    .command('arbiter')
    .description(
      "Run the third-site arbiter: agents send it their signed lease renewals, the control plane asks it when it last heard of a site (booth's arbitrator)",
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: a free one)', port, 7090)
    .requiredOption('--vault-ca <file>', "the vault's CA certificates (the ca.pem of drctl vault init)")
    .option('--json', 'print the ready line as JSON')
    .action(async (flags: { host: string; port: number; vaultCa: string; json?: boolean }) => {
      let trusted: string[];
      try {
        trusted = certificatesIn(readFileSync(flags.vaultCa, 'utf8'));
      } catch (error) {
        throw new DrError('BAD_CA_FILE', `--vault-ca ${flags.vaultCa}: ${(error as Error).message}`, {
          exitCode: 2,
        });
      }
      if (trusted.length === 0)
        throw new DrError('BAD_CA_FILE', `--vault-ca ${flags.vaultCa} holds no PEM certificate`, {
          exitCode: 2,
        });
      const arbiter = await startArbiter({
        host: flags.host,
        port: flags.port,
        trusted,
        log: createLogger('arbiter'),
      });
      const line = { arbiter: arbiter.url, pid: process.pid };
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(line)}\n`
          : `arbiter listening on ${arbiter.url} (pid ${process.pid})\n`,
      );
      await untilStopSignal();
      await arbiter.close();
    });
}
