import { describe, expect, it } from 'vitest';
import { parseStepJobResult } from '../../engine/executor/index.ts';

const at = '2026-01-01T00:00:00.000Z';
const good = {
  v: 1,
  steps: [
    { id: 'a/failover', outcome: 'done', startedAt: at, endedAt: at, output: { x: 1 } },
    {
      id: 'a/boot',
      outcome: 'failed',
      startedAt: at,
      endedAt: at,
      error: { code: 'HOST_BOOT_LIMIT', message: 'full', retryable: true },
    },
  ],
  recoveryPoint: { id: 'rp-1', time: at },
  alreadyDone: false,
};

describe('a step job result read from the completions stream or BullMQ', () => {
  it('is accepted as it is when well formed', () => {
    expect(parseStepJobResult(structuredClone(good), 'here')).toEqual(good);
  });

  it.each([
    ['a wrong version', { ...good, v: 2 }],
    ['an unknown outcome', { ...good, steps: [{ ...good.steps[0], outcome: 'maybe' }] }],
    ['a step without its id', { ...good, steps: [{ ...good.steps[0], id: undefined }] }],
    [
      'an error whose retryable is not a boolean',
      { ...good, steps: [{ ...good.steps[1], error: { code: 'X', message: 'y', retryable: 'yes' } }] },
    ],
    ['an output that is not an object', { ...good, steps: [{ ...good.steps[0], output: 'text' }] }],
    ['a recovery point without its time', { ...good, recoveryPoint: { id: 'rp' } }],
    ['steps that are not a list', { ...good, steps: {} }],
    ['no object at all', 'done'],
  ])('is refused, naming where it came from, with %s', (_what, value) => {
    expect(() => parseStepJobResult(value, 'completion 1-0 of ex1')).toThrow(
      /completion 1-0 of ex1: the step job's result does not match StepJobResult v1/,
    );
  });
});
