// Preloaded into engine processes by bench/worker-death.ts (NODE_OPTIONS=--import=...): records
// the process's event-loop delay and writes it to $LOOP_DELAY_DIR/<pid>.json when the process exits.
// SIGUSR2 starts the record afresh (the bench sends it once every process is ready, so start-up,
// which compiles the engine, is not counted); <pid>.pid says which processes to send it to.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const dir = process.env.LOOP_DELAY_DIR;
if (dir) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  writeFileSync(join(dir, `${process.pid}.pid`), '');
  process.on('SIGUSR2', () => histogram.reset());
  process.on('exit', () => {
    histogram.disable();
    writeFileSync(
      join(dir, `${process.pid}.json`),
      JSON.stringify({
        pid: process.pid,
        argv: process.argv.slice(1),
        maxMs: histogram.max / 1e6,
        p99Ms: histogram.percentile(99) / 1e6,
      }),
    );
  });
}
