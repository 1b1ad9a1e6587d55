import type { Block, Processor } from '../types.js';

/**
 * Lists: consecutive list items become list blocks, nested by their depth. A numbered item
 * starts a numbered list (keeping its first number); a change between numbered and bulleted
 * at the same depth starts a new list.
 */
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
    const items = doc.blocks.slice(i, end);
    const base = Math.min(...items.map((b) => b.depth ?? 0));
    out.push(...buildLists(items, base));
    i = end;
  }
  return { ...doc, blocks: out };
};

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
    const { depth: _d, number: _n, ...rest } = item;
    list.children!.push({ ...rest, type: 'list_item' });
    list.bbox = { x0: Math.min(list.bbox.x0, item.bbox.x0), y0: list.bbox.y0, x1: Math.max(list.bbox.x1, item.bbox.x1), y1: item.bbox.y1 };
    k++;
  }
  return lists;
}
