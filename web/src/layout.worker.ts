/**
 * Lays a plan's dependency graph out off the main thread. Up to DAGRE_MAX nodes: dagre (layered,
 * left to right, edges routed around nodes); above it dagre's ordering takes seconds, so the nodes
 * go in columns by wave (the plan's own layering: every edge points to a later wave) and rows in
 * the order dagre's ordering would start from. Posts back positions and edge polylines.
 */
import dagre from '@dagrejs/dagre';
import { type LayoutRequest, type LayoutResult, NODE_H, NODE_W } from './layout.ts';

const DAGRE_MAX = 1500;

function viaDagre(request: LayoutRequest): Omit<LayoutResult, 'ms'> {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 8, ranksep: 60, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of request.nodes) g.setNode(node.id, { width: NODE_W, height: NODE_H });
  for (const edge of request.edges) g.setEdge(edge.from, edge.to);
  dagre.layout(g);
  const xs = new Float64Array(request.nodes.length);
  const ys = new Float64Array(request.nodes.length);
  request.nodes.forEach((node, i) => {
    const n = g.node(node.id);
    xs[i] = n.x;
    ys[i] = n.y;
  });
  const edges = request.edges.map((edge) =>
    (g.edge(edge.from, edge.to)?.points ?? []).flatMap((p: { x: number; y: number }) => [p.x, p.y]),
  );
  const graph = g.graph();
  return { xs, ys, edges, width: graph.width ?? 0, height: graph.height ?? 0, engine: 'dagre' };
}

function viaWaves(request: LayoutRequest): Omit<LayoutResult, 'ms'> {
  const xs = new Float64Array(request.nodes.length);
  const ys = new Float64Array(request.nodes.length);
  const rowOf = new Map<number, number>();
  const index = new Map<string, number>();
  let maxRow = 0;
  let maxWave = 0;
  request.nodes.forEach((node, i) => {
    const row = rowOf.get(node.wave) ?? 0;
    rowOf.set(node.wave, row + 1);
    xs[i] = 10 + NODE_W / 2 + Math.max(0, node.wave) * (NODE_W + 60);
    ys[i] = 10 + NODE_H / 2 + row * (NODE_H + 8);
    maxRow = Math.max(maxRow, row);
    maxWave = Math.max(maxWave, node.wave);
    index.set(node.id, i);
  });
  const edges = request.edges.map((edge) => {
    const a = index.get(edge.from);
    const b = index.get(edge.to);
    if (a === undefined || b === undefined) return [];
    return [xs[a]! + NODE_W / 2, ys[a]!, xs[b]! - NODE_W / 2, ys[b]!];
  });
  return {
    xs,
    ys,
    edges,
    width: 20 + (maxWave + 1) * (NODE_W + 60),
    height: 20 + (maxRow + 1) * (NODE_H + 8),
    engine: 'waves',
  };
}

self.onmessage = (message: MessageEvent<LayoutRequest>) => {
  const started = performance.now();
  const request = message.data;
  const result = request.nodes.length <= DAGRE_MAX ? viaDagre(request) : viaWaves(request);
  const answer: LayoutResult = { ...result, ms: performance.now() - started };
  (self as unknown as Worker).postMessage(answer, [answer.xs.buffer, answer.ys.buffer]);
};
