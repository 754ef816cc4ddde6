/** Small helpers the pages share: durations, ages and a data hook that refetches on demand. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs < 1000) return `${Math.round(value)} ms`;
  if (abs < 60_000) return `${(value / 1000).toFixed(1)} s`;
  if (abs < 3_600_000) return `${Math.floor(value / 60_000)} m ${Math.round((abs % 60_000) / 1000)} s`;
  return `${Math.floor(value / 3_600_000)} h ${Math.round((abs % 3_600_000) / 60_000)} m`;
}

export function when(iso: string | undefined): string {
  if (iso === undefined) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload(): void;
}

/** `load()` now and whenever `reload` is called (a live message said something changed). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    load().then(
      (value) => {
        if (mine !== seq.current) return;
        setData(value);
        setError(undefined);
      },
      (cause: unknown) => {
        if (mine !== seq.current) return;
        setError(cause instanceof Error ? cause.message : String(cause));
      },
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}
