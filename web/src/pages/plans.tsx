/**
 * Plans: the stored plans; a plan's dependency graph drawn on a canvas (laid out in a Web Worker),
 * its critical path highlighted, the estimated RTO beside the sequential-groups RTO; its drill
 * history (achieved RTO and RPO against the targets) as a chart and a table.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type DrillHistory, enc, type PlanGraph } from '../api.ts';
import { Chart } from '../chart.tsx';
import type { LayoutResult } from '../layout.ts';
import { NODE_H, NODE_W } from '../layout.ts';
import { useChanges, useStream } from '../stream.ts';
import { ms, useLoad, when } from '../util.ts';

interface PlanSummary {
  name: string;
  versions: number;
  latest: { name: string; hash: string; storedAt?: string; by?: string; [key: string]: unknown };
}

export function PlansPage() {
  const plans = useLoad(() => api<{ plans: PlanSummary[] } | PlanSummary[]>('/plans'), []);
  useChanges([], plans.reload);
  const list = Array.isArray(plans.data) ? plans.data : (plans.data?.plans ?? []);
  return (
    <section>
      <h2>Plans</h2>
      {plans.error && <p class="error">{plans.error}</p>}
      <table data-testid="plans">
        <thead>
          <tr>
            <th>Plan</th>
            <th>Versions</th>
            <th>Latest</th>
          </tr>
        </thead>
        <tbody>
          {list.map((plan) => (
            <tr key={plan.name}>
              <td>
                <a href={`#/plans/${enc(plan.name)}`}>{plan.name}</a>
              </td>
              <td>{plan.versions}</td>
              <td>
                <code>{plan.latest.hash.slice(0, 12)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const KIND_COLOURS: Record<string, string> = {
  action: '#fbe7c8',
  fence: '#f3d6d6',
  shutdown: '#fde9c9',
  failover: '#dfe9f8',
  boot: '#e7e0f8',
  readiness: '#d8f0ee',
  barrier: '#e6e6e6',
  return: '#e0ecd8',
};

function GraphCanvas({ graph }: { graph: PlanGraph }) {
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [layout, setLayout] = useState<LayoutResult | undefined>();
  useEffect(() => {
    const worker = new Worker(new URL('../layout.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (message: MessageEvent<LayoutResult>) => setLayout(message.data);
    worker.postMessage({
      nodes: graph.nodes.map((n) => ({ id: n.id, label: n.label, wave: n.wave })),
      edges: graph.edges,
    });
    return () => worker.terminate();
  }, [graph]);
  const critical = useMemo(() => {
    const nodes = new Set(graph.criticalPath);
    const edges = new Set<string>();
    for (let i = 1; i < graph.criticalPath.length; i++)
      edges.add(`${graph.criticalPath[i - 1]}\u0000${graph.criticalPath[i]}`);
    return { nodes, edges };
  }, [graph]);
  useEffect(() => {
    const el = box.current;
    const c = canvas.current;
    if (el === null || c === null || layout === undefined) return;
    let frame = 0;
    const draw = (): void => {
      frame = 0;
      const dpr = devicePixelRatio || 1;
      const w = el.clientWidth;
      const h = el.clientHeight;
      c.width = w * dpr;
      c.height = h * dpr;
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
      const ctx = c.getContext('2d');
      if (ctx === null) return;
      ctx.setTransform(dpr, 0, 0, dpr, -el.scrollLeft * dpr, -el.scrollTop * dpr);
      ctx.clearRect(el.scrollLeft, el.scrollTop, w, h);
      const left = el.scrollLeft - NODE_W;
      const right = el.scrollLeft + w + NODE_W;
      const top = el.scrollTop - NODE_H;
      const bottom = el.scrollTop + h + NODE_H;
      const inView = (x: number, y: number): boolean => x > left && x < right && y > top && y < bottom;
      ctx.lineWidth = 1;
      for (let i = 0; i < graph.edges.length; i++) {
        const points = layout.edges[i] ?? [];
        if (points.length < 4) continue;
        const edge = graph.edges[i]!;
        if (!inView(points[0]!, points[1]!) && !inView(points.at(-2)!, points.at(-1)!)) continue;
        const hot = critical.edges.has(`${edge.from}\u0000${edge.to}`);
        ctx.strokeStyle = hot ? '#d02828' : '#9aa4b2';
        ctx.lineWidth = hot ? 2.5 : 1;
        ctx.beginPath();
        ctx.moveTo(points[0]!, points[1]!);
        for (let p = 2; p < points.length; p += 2) ctx.lineTo(points[p]!, points[p + 1]!);
        ctx.stroke();
      }
      ctx.font = '11px system-ui, sans-serif';
      ctx.textBaseline = 'middle';
      for (let i = 0; i < graph.nodes.length; i++) {
        const x = layout.xs[i]!;
        const y = layout.ys[i]!;
        if (!inView(x, y)) continue;
        const node = graph.nodes[i]!;
        const hot = critical.nodes.has(node.id);
        ctx.fillStyle = KIND_COLOURS[node.kind] ?? '#eee';
        ctx.fillRect(x - NODE_W / 2, y - NODE_H / 2, NODE_W, NODE_H);
        ctx.strokeStyle = hot ? '#d02828' : '#7a8494';
        ctx.lineWidth = hot ? 2.5 : 1;
        ctx.strokeRect(x - NODE_W / 2, y - NODE_H / 2, NODE_W, NODE_H);
        ctx.fillStyle = '#223';
        const label = node.label.length > 22 ? `${node.label.slice(0, 21)}…` : node.label;
        ctx.fillText(label, x - NODE_W / 2 + 5, y);
      }
    };
    const schedule = (): void => {
      if (frame === 0) frame = requestAnimationFrame(draw);
    };
    schedule();
    el.addEventListener('scroll', schedule, { passive: true });
    const resize = new ResizeObserver(schedule);
    resize.observe(el);
    return () => {
      el.removeEventListener('scroll', schedule);
      resize.disconnect();
      cancelAnimationFrame(frame);
    };
  }, [layout, graph, critical]);
  return (
    <div>
      <p data-testid="layout">
        {layout === undefined
          ? `Laying out ${graph.nodes.length} nodes…`
          : `${graph.nodes.length} nodes, ${graph.edges.length} edges, laid out by ${layout.engine} in ${ms(layout.ms)} (in a worker); the critical path in red.`}
      </p>
      <div class="canvas-box" ref={box} style="height:420px" data-testid="graph">
        <canvas ref={canvas} />
        <div style={`width:${layout?.width ?? 0}px;height:${layout?.height ?? 0}px;margin-top:-420px`} />
      </div>
    </div>
  );
}

function Drills({ name }: { name: string }) {
  // A stored plan never drilled has an empty history (a 404 is a plan the vault does not know).
  const history = useLoad(() => api<DrillHistory>(`/plans/${enc(name)}/drills`), [name]);
  const reloadHistory = history.reload;
  // A drill of this plan that changed status may have ended: its row comes or moves.
  useStream(['execution'], (items) => {
    if (items.some((item) => item.kind === 'poll' || (item.kind === 'execution' && item.plan === name)))
      reloadHistory();
  });
  const chart = useMemo(() => {
    const drills = history.data?.drills ?? [];
    if (drills.length === 0) return undefined;
    const x = drills.map((d) => Date.parse(d.createdAt) / 1000);
    const series = [
      {
        label: 'RTO achieved (s)',
        values: drills.map((d) => (d.rto.achievedMs ?? Number.NaN) / 1000),
        colour: '#3070d0',
      },
      {
        label: 'RPO achieved (s)',
        values: drills.map((d) => (d.rpo.achievedMs ?? Number.NaN) / 1000),
        colour: '#30a050',
      },
    ].map((s) => ({ ...s, values: s.values.map((v) => (Number.isNaN(v) ? null : v)) }));
    return { x, series };
  }, [history.data]);
  if (history.error) return <p class="error">{history.error}</p>;
  const data = history.data;
  if (data === undefined) return <p>Loading drill history…</p>;
  return (
    <div data-testid="drills">
      <h3>Drill history</h3>
      <p>
        Targets: RTO {ms(data.targets.rtoMs)}, RPO {ms(data.targets.rpoMs)}
      </p>
      {chart && <Chart title="Achieved RTO and RPO per drill" x={chart.x} series={chart.series} yLabel="s" />}
      <table>
        <thead>
          <tr>
            <th>When</th>
            <th>Execution</th>
            <th>Status</th>
            <th>By</th>
            <th>VMs</th>
            <th>RTO</th>
            <th>RPO</th>
            <th>Verdict</th>
          </tr>
        </thead>
        <tbody>
          {data.drills
            .slice()
            .reverse()
            .map((d) => (
              <tr key={d.execution}>
                <td>{when(d.createdAt)}</td>
                <td>
                  <a href={`#/executions/${enc(d.execution)}`}>{d.execution}</a>
                </td>
                <td>{d.status}</td>
                <td>{d.by}</td>
                <td>{d.vms}</td>
                <td>
                  {ms(d.rto.achievedMs)} <span class={`badge ${d.rto.verdict}`}>{d.rto.verdict}</span>
                </td>
                <td>
                  {ms(d.rpo.achievedMs)} <span class={`badge ${d.rpo.verdict}`}>{d.rpo.verdict}</span>
                </td>
                <td>
                  <span class={`badge ${d.verdict}`}>{d.verdict}</span>
                </td>
              </tr>
            ))}
        </tbody>
      </table>
      {data.drills.length === 0 && <p>No drill of this plan yet.</p>}
    </div>
  );
}

export function PlanPage({ name }: { name: string }) {
  const [type, setType] = useState('test');
  const graph = useLoad(() => api<PlanGraph>(`/plans/${enc(name)}/graph?type=${type}`), [name, type]);
  return (
    <section>
      <h2>
        <a href="#/plans">Plans</a> / {name}
      </h2>
      {graph.error && <p class="error">{graph.error}</p>}
      {graph.data && (
        <>
          <div class="summary">
            <div class="figure">
              <b data-testid="estimated-rto">{ms(graph.data.estimatedRtoMs)}</b>estimated RTO (graph)
            </div>
            <div class="figure">
              <b data-testid="sequential-rto">{ms(graph.data.sequentialGroupsRtoMs)}</b>RTO as sequential
              groups
            </div>
            <div class="figure">
              <b>{graph.data.criticalPath.length}</b>steps on the critical path
            </div>
            <label class="figure">
              run
              <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
                <option value="test">drill</option>
                <option value="planned">planned failover</option>
                <option value="unplanned">unplanned failover</option>
              </select>
            </label>
          </div>
          <GraphCanvas graph={graph.data} />
        </>
      )}
      <Drills name={name} />
    </section>
  );
}
