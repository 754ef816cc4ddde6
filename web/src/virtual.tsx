/**
 * A virtualised list: only the rows in view (and a few either side) are in the DOM, absolutely
 * placed in a spacer as tall as the whole list, so 10,000 rows cost what 40 do.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export function VirtualList<T>({
  items,
  rowHeight,
  header,
  row,
  testid,
}: {
  items: T[];
  rowHeight: number;
  header: ComponentChildren;
  row(item: T, index: number, style: string): ComponentChildren;
  testid?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    let frame = 0;
    const onScroll = (): void => {
      if (frame !== 0) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setTop(el.scrollTop);
      });
    };
    const resize = new ResizeObserver(() => setHeight(el.clientHeight));
    resize.observe(el);
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      el.removeEventListener('scroll', onScroll);
      resize.disconnect();
      cancelAnimationFrame(frame);
    };
  }, []);
  const overscan = 8;
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((top + height) / rowHeight) + overscan);
  const shown: ComponentChildren[] = [];
  for (let i = first; i < last; i++)
    shown.push(row(items[i]!, i, `top:${rowHeight + i * rowHeight}px;height:${rowHeight}px`));
  return (
    <div class="vlist" ref={box} data-testid={testid} data-rows={items.length}>
      <div class="vrow head" style={`height:${rowHeight}px`}>
        {header}
      </div>
      <div style={`height:${items.length * rowHeight}px`} />
      {shown}
    </div>
  );
}
