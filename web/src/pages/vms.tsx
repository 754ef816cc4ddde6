/**
 * VMs: every VM of the inventory with its replication health (Normal, Warning, Critical), RPO now
 * and its recovery points, in a virtualised list (10,000 VMs render in well under a second); the
 * selected VM's RPO and health over 24 h as a chart, from /history.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, enc, type InventoryView, type VmHistory, type VmRow } from '../api.ts';
import { Chart } from '../chart.tsx';
import { useStream } from '../stream.ts';
import { ms, useLoad, when } from '../util.ts';
import { VirtualList } from '../virtual.tsx';

const HEALTHS = ['Normal', 'Warning', 'Critical'] as const;

/** VMs per request: the first page paints while the rest comes (and no parse blocks for long). */
const PAGE = 2000;

/**
 * The whole inventory, page by page: `onPage` with what came so far after each page, so the list
 * paints after the first. A newer load (a reload) makes an older one stop.
 */
function useInventory(): {
  data: InventoryView | undefined;
  error: string | undefined;
  complete: boolean;
  reload(): void;
} {
  const [data, setData] = useState<InventoryView | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [complete, setComplete] = useState(false);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    (async () => {
      let page = await api<InventoryView>(`/inventory?limit=${PAGE}`);
      const sites = page.sites;
      let vms = page.vms;
      if (mine !== seq.current) return;
      // A reload keeps showing the old list until the new one is whole.
      if (tick === 0) setData({ sites, vms });
      while (page.next !== undefined) {
        page = await api<InventoryView>(`/inventory?limit=${PAGE}&after=${enc(page.next)}`);
        if (mine !== seq.current) return;
        vms = vms.concat(page.vms);
        if (tick === 0) setData({ sites, vms });
      }
      setData({ sites, vms });
      setComplete(true);
      setError(undefined);
    })().catch((cause: unknown) => {
      if (mine === seq.current) setError(cause instanceof Error ? cause.message : String(cause));
    });
  }, [tick]);
  return { data, error, complete, reload: useCallback(() => setTick((t) => t + 1), []) };
}

function History({ vm }: { vm: string }) {
  const history = useLoad(() => api<{ vms: VmHistory[] }>(`/history?vm=${enc(vm)}`), [vm]);
  const series = history.data?.vms[0];
  const chart = useMemo(() => {
    if (series === undefined) return undefined;
    const x = series.rpoSec.map((_, i) => (series.start + i * series.stepMs) / 1000);
    return { x, series: [{ label: 'worst RPO (s)', values: series.rpoSec, colour: '#3070d0' }] };
  }, [series]);
  if (history.error) return <p class="error">{history.error}</p>;
  if (chart === undefined) return <p>Loading {vm}'s history…</p>;
  const worst = series?.health.reduce<string | null>(
    (w, h) =>
      h === 'Critical' || w === 'Critical'
        ? 'Critical'
        : h === 'Warning' || w === 'Warning'
          ? 'Warning'
          : (h ?? w),
    null,
  );
  return (
    <div data-testid="history">
      <Chart
        title={`${vm}: RPO over 24 h (worst health ${worst ?? 'no samples'})`}
        x={chart.x}
        series={chart.series}
        yLabel="s"
        height={180}
      />
    </div>
  );
}

export function VmsPage() {
  const inventory = useInventory();
  // Health changes come by the stream, patched in place; the rest (RPO now, points) is read again
  // every 30 s, or with each poll when there is no stream.
  const [healthOf, setHealthOf] = useState<Map<string, string | null>>(new Map());
  const reload = inventory.reload;
  useStream(['vm'], (items) => {
    if (items.some((item) => item.kind === 'poll')) reload();
    setHealthOf((before) => {
      const next = new Map(before);
      for (const item of items) if (item.kind === 'vm') next.set(`${item.site}/${item.vm}`, item.health);
      return next;
    });
  });
  useEffect(() => {
    const timer = setInterval(reload, 30_000);
    return () => clearInterval(timer);
  }, [reload]);
  const healthOfVm = (vm: VmRow): string =>
    (healthOf.has(`${vm.site}/${vm.name}`)
      ? healthOf.get(`${vm.site}/${vm.name}`)
      : vm.replication?.health) ?? 'none';
  const [filter, setFilter] = useState('');
  const [health, setHealth] = useState('');
  const [selected, setSelected] = useState<string | undefined>();
  const all = inventory.data?.vms ?? [];
  // The first paint of the list, for the bench (bench/dashboard-10k.ts reads the mark).
  const painted = useRef({ first: false, all: false });
  useEffect(() => {
    const mark = (name: string): void => {
      requestAnimationFrame(() => setTimeout(() => performance.mark(name), 0));
    };
    if (inventory.data !== undefined && !painted.current.first) {
      painted.current.first = true;
      mark('drorch:vms-rendered');
    }
    if (inventory.complete && !painted.current.all) {
      painted.current.all = true;
      mark('drorch:vms-complete');
    }
  }, [inventory.data, inventory.complete]);
  const counts = useMemo(() => {
    const c: Record<string, number> = { Normal: 0, Warning: 0, Critical: 0, none: 0 };
    for (const vm of all) {
      const h = healthOfVm(vm);
      c[h] = (c[h] ?? 0) + 1;
    }
    return c;
  }, [all, healthOf]);
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return all.filter(
      (vm) =>
        (f === '' || vm.name.toLowerCase().includes(f) || vm.site.toLowerCase().includes(f)) &&
        (health === '' || healthOfVm(vm) === health),
    );
  }, [all, filter, health, healthOf]);
  const row = (vm: VmRow, _i: number, style: string) => {
    const h = healthOfVm(vm);
    return (
      <button
        type="button"
        key={`${vm.site}/${vm.name}`}
        class={`vrow${selected === vm.name ? ' selected' : ''}`}
        style={style}
        data-vm={vm.name}
        onClick={() => setSelected(vm.name)}
      >
        <span>{vm.name}</span>
        <span>{vm.site}</span>
        <span>
          <span class={`badge ${h}`}>{h}</span>
        </span>
        <span>{ms(vm.replication?.rpoMs)}</span>
        <span>{vm.state}</span>
        <span>{vm.recoveryPoints.count}</span>
        <span>{when(vm.recoveryPoints.newest)}</span>
      </button>
    );
  };
  return (
    <section>
      <h2>VMs</h2>
      {inventory.error && <p class="error">{inventory.error}</p>}
      <div class="summary">
        <div class="figure">
          <b data-testid="vm-count" data-complete={inventory.complete ? 'yes' : 'no'}>
            {all.length}
          </b>
          VMs{inventory.complete ? '' : ' (loading…)'}
        </div>
        {HEALTHS.map((h) => (
          <div class="figure" key={h}>
            <b data-testid={`health-${h}`}>{counts[h]}</b>
            <span class={`badge ${h}`}>{h}</span>
          </div>
        ))}
        <input
          placeholder="filter by name or site"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        <select value={health} onChange={(e) => setHealth((e.target as HTMLSelectElement).value)}>
          <option value="">any health</option>
          {HEALTHS.map((h) => (
            <option key={h}>{h}</option>
          ))}
          <option value="none">not replicated</option>
        </select>
      </div>
      {selected && <History vm={selected} />}
      <VirtualList
        testid="vm-list"
        items={shown}
        rowHeight={24}
        header={
          <>
            <span>VM</span>
            <span>Site</span>
            <span>Health</span>
            <span>RPO now</span>
            <span>State</span>
            <span>Points</span>
            <span>Newest point</span>
          </>
        }
        row={row}
      />
    </section>
  );
}
