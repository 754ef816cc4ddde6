/**
 * The dashboard's coalesced server-sent events (engine/control/routes/sse-batch.ts): every item
 * once, in order, in `event: batch` messages whose `id:` is the last item's, each message in its
 * own slot of the pacer (which spaces them 100 ms apart in the server), and a fast source sent as
 * few messages, not one per item.
 */
import { describe, expect, it } from 'vitest';
import { type Pacer, writeBatches } from '../../engine/control/routes/sse-batch.ts';

/** A pacer whose slots open when the test says: it counts what waited for one. */
function manualPacer(): Pacer & { open(): void; slots: number } {
  let release: (() => void) | undefined;
  const pacer = {
    slots: 0,
    slot: async () => {
      pacer.slots += 1;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    open: () => release?.(),
  };
  return pacer;
}

async function* numbers(n: number, gate?: Promise<void>): AsyncIterable<{ id: string; n: number }> {
  for (let i = 1; i <= n; i += 1) {
    if (i === 2 && gate !== undefined) await gate;
    yield { id: `0-${i}`, n: i };
  }
}

function parse(messages: string[]): { id: string; event: string; data: { n: number }[] }[] {
  return messages.map((text) => {
    const id = /^id: (.*)$/m.exec(text)?.[1] ?? '';
    const event = /^event: (.*)$/m.exec(text)?.[1] ?? '';
    const data = JSON.parse(/^data: (.*)$/m.exec(text)?.[1] ?? 'null') as { n: number }[];
    return { id, event, data };
  });
}

describe('when events come faster than the pace', () => {
  it('coalesces what arrived while a message waited for its slot into one batch', async () => {
    const pacer = manualPacer();
    const messages: string[] = [];
    const controller = new AbortController();
    const running = writeBatches(numbers(500), {
      idOf: (item) => item.id,
      write: async (text) => {
        messages.push(text);
      },
      signal: controller.signal,
      pacer,
    });
    // Let the source run ahead while the first slot is closed, then open every slot.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const opener = setInterval(() => pacer.open(), 1);
    await running;
    clearInterval(opener);
    const batches = parse(messages);
    expect(batches.every((b) => b.event === 'batch')).toBe(true);
    expect(batches.flatMap((b) => b.data.map((d) => d.n))).toEqual(
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
    for (const batch of batches) expect(batch.id).toBe(`0-${batch.data.at(-1)?.n}`);
    expect(batches.length).toBeLessThan(10);
    // Every message waited for a slot of its own.
    expect(pacer.slots).toBe(batches.length);
  });

  it('sends a lone event as soon as its slot opens, not after the source ends', async () => {
    const pacer = manualPacer();
    const messages: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = writeBatches(numbers(3, gate), {
      idOf: (item) => item.id,
      write: async (text) => {
        messages.push(text);
      },
      signal: new AbortController().signal,
      pacer,
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    pacer.open();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(parse(messages).map((b) => b.data.map((d) => d.n))).toEqual([[1]]);
    release();
    const opener = setInterval(() => pacer.open(), 1);
    await running;
    clearInterval(opener);
    expect(parse(messages).flatMap((b) => b.data.map((d) => d.n))).toEqual([1, 2, 3]);
  });
});

describe('when the source fails', () => {
  it('sends what it read before the failure, then throws it', async () => {
    async function* failing(): AsyncIterable<{ id: string }> {
      yield { id: '0-1' };
      throw new Error('boom');
    }
    const messages: string[] = [];
    await expect(
      writeBatches(failing(), {
        idOf: (item) => item.id,
        write: async (text) => {
          messages.push(text);
        },
        signal: new AbortController().signal,
        pacer: { slot: async () => {} },
      }),
    ).rejects.toThrow('boom');
    expect(messages.join('')).toContain('id: 0-1');
  });
});
