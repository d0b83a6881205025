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
