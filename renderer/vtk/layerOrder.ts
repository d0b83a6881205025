/**
 * Items sorted by rank, lowest first; items without a rank go last. The sort is stable, so items of equal
 * rank keep the order they were added in.
 */
export function orderByRank<T>(items: readonly T[], rankOf: (item: T) => number | undefined): T[] {
  return items
    .map((item, n) => ({ item, n, rank: rankOf(item) ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.rank - b.rank || a.n - b.n)
    .map((x) => x.item);
}

/**
 * Sort, in place, the items that have a rank among the positions they already occupy; items without a rank
 * stay where they are. Returns whether anything moved.
 */
export function sortRankedInPlace<T>(items: T[], rankOf: (item: T) => number | undefined): boolean {
  const slots: number[] = [];
  items.forEach((item, n) => {
    if (rankOf(item) !== undefined) slots.push(n);
  });
  const sorted = orderByRank(
    slots.map((n) => items[n]!),
    rankOf,
  );
  let moved = false;
  slots.forEach((n, m) => {
    if (items[n] !== sorted[m]) moved = true;
    items[n] = sorted[m]!;
  });
  return moved;
}
