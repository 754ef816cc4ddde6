/** What the graph page and its layout worker (layout.worker.ts) exchange. */

export interface LayoutRequest {
  nodes: { id: string; label: string; wave: number }[];
  edges: { from: string; to: string }[];
}

export interface LayoutResult {
  /** x, y of each node's centre, in request order. */
  xs: Float64Array;
  ys: Float64Array;
  /** Each edge's points as x0,y0,x1,y1…, in request order. */
  edges: number[][];
  width: number;
  height: number;
  engine: 'dagre' | 'waves';
  ms: number;
}

export const NODE_W = 150;
export const NODE_H = 26;
