import { Writable } from 'node:stream';
import pino from 'pino';
import { expect, it } from 'vitest';
import { lazyChild } from '../../engine/executor/worker.ts';

it('a unit logger is made only when it logs at an enabled level, with every binding', () => {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const base = pino({ level: 'info' }, out);
  const unit = lazyChild(base, { execution: 'ex', vm: 'a' });
  const step = unit.child({ step: 'a/boot' });
  step.debug('hidden');
  expect(lines).toEqual([]);
  step.warn({ code: 'X' }, 'seen');
  unit.info('unit');
  const [first, second] = lines.map((l) => JSON.parse(l));
  expect(first).toMatchObject({
    execution: 'ex',
    vm: 'a',
    step: 'a/boot',
    code: 'X',
    msg: 'seen',
    level: 40,
  });
  expect(second).toMatchObject({ execution: 'ex', vm: 'a', msg: 'unit' });
  expect(step.isLevelEnabled('debug')).toBe(false);
  expect(unit.level).toBe('info');
});
