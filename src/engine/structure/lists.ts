import type { Block, Processor } from '../types.js';

// Lists: consecutive list items become list blocks, nested by where their text starts: an item
// set further in than the one before it opens a list inside that one, an item set back out
// closes lists until one starts where it does. A numbered item starts a numbered list (keeping
// its first number); a change between numbered and bulleted at the same level starts a new list.

/** An item deeper than the last by this much (font sizes) is nested in it; nearer is the same level. */
const NEST_STEP = 0.6;

export const nestLists: Processor = (doc) => {
  const out: Block[] = [];
  let i = 0;
  while (i < doc.blocks.length) {
    if (doc.blocks[i].type !== 'list_item') {
      out.push(doc.blocks[i++]);
      continue;
    }
    let end = i;
    while (end < doc.blocks.length && doc.blocks[end].type === 'list_item') end++;
    const items = levels(doc.blocks.slice(i, end));
    out.push(...buildLists(items, 0));
    i = end;
  }
  return { ...doc, blocks: out };
};

/** Each item's nesting level, from the indents of the items before it (or its own depth when it has no indent). */
function levels(items: Block[]): Block[] {
  const stack: number[] = [];
  return items.map((item) => {
    if (item.indent === undefined) return item;
    const step = (item.lines?.[0]?.fontSize ?? 10) * NEST_STEP;
    while (stack.length && item.indent < stack[stack.length - 1] - step) stack.pop();
    const top = stack[stack.length - 1];
    if (top === undefined || item.indent > top + step) stack.push(item.indent);
    return { ...item, depth: stack.length - 1 };
  });
}

function buildLists(items: Block[], depth: number): Block[] {
  const lists: Block[] = [];
  let list: Block | undefined;
  let k = 0;
  while (k < items.length) {
    const item = items[k];
    const d = Math.max(depth, item.depth ?? depth);
    if (d > depth && list?.children?.length) {
      // Deeper items belong to the previous item of this list.
      let end = k;
      while (end < items.length && (items[end].depth ?? depth) > depth) end++;
      const parent = list.children[list.children.length - 1];
      parent.children = [...(parent.children ?? []), ...buildLists(items.slice(k, end), depth + 1)];
      k = end;
      continue;
    }
    const ordered = item.number !== undefined;
    if (!list || list.ordered !== ordered) {
      list = { type: 'list', page: item.page, bbox: item.bbox, ordered, children: [] };
      if (ordered) list.start = item.number;
      lists.push(list);
    }
    const { depth: _d, number: _n, indent: _i, marker: _m, ...rest } = item;
    list.children!.push({ ...rest, type: 'list_item' });
    list.bbox = { x0: Math.min(list.bbox.x0, item.bbox.x0), y0: list.bbox.y0, x1: Math.max(list.bbox.x1, item.bbox.x1), y1: item.bbox.y1 };
    k++;
  }
  return lists;
}
