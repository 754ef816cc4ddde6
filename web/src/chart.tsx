/** uPlot charts: a time series (RPO over 24 h) and the drill history (achieved RTO and RPO). */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: (number | null)[];
  colour: string;
}

export function Chart({
  x,
  series,
  title,
  height = 200,
  yLabel,
}: {
  x: number[];
  series: Series[];
  title: string;
  height?: number;
  yLabel: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const plot = new uPlot(
      {
        title,
        width: Math.max(300, el.clientWidth || 600),
        height,
        scales: { x: { time: true } },
        axes: [{}, { label: yLabel }],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.colour,
            width: 2,
            spanGaps: false,
            points: { show: x.length < 60 },
          })),
        ],
      },
      [x, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    return () => plot.destroy();
  }, [x, series, title, height, yLabel]);
  return <div ref={box} class="chart" />;
}
