/**
 * Calls made in the same tick, grouped by a key and sent as one: the relay hands, reads and drops
 * the units of a batch job (hundreds at once) in one Redis round trip per site instead of one each.
 * The flush runs on setImmediate, after every unit of the tick asked.
 */
export type TickBatch<T, R> = (key: string, item: T) => Promise<R>;

export function tickBatch<T, R>(
  flush: (key: string, items: readonly T[]) => Promise<readonly R[]>,
): TickBatch<T, R> {
  let pending = new Map<string, { item: T; resolve(r: R): void; reject(e: unknown): void }[]>();
  let scheduled = false;
  const run = (): void => {
    scheduled = false;
    const batches = pending;
    pending = new Map();
    for (const [key, calls] of batches) {
      flush(
        key,
        calls.map((c) => c.item),
      ).then(
        (results) => {
          for (const [i, c] of calls.entries()) c.resolve(results[i] as R);
        },
        (error: unknown) => {
          for (const c of calls) c.reject(error);
        },
      );
    }
  };
  return (key, item) =>
    new Promise<R>((resolve, reject) => {
      const calls = pending.get(key) ?? [];
      calls.push({ item, resolve, reject });
      pending.set(key, calls);
      if (!scheduled) {
        scheduled = true;
        setImmediate(run);
      }
    });
}
