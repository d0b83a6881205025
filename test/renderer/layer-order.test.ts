import { describe, expect, it } from 'vitest';
import { orderByRank, sortRankedInPlace } from '../../renderer/vtk/layerOrder.js';

const rank: Record<string, number | undefined> = { image: 0, reference: 1, edit: 2, edit2: 2 };
const rankOf = (s: string) => rank[s];

describe('layer order', () => {
  it('sorts by rank, keeps equal ranks in the order added, puts unranked items last', () => {
    expect(orderByRank(['edit', 'heat', 'reference', 'edit2', 'image'], rankOf)).toEqual(['image', 'reference', 'edit', 'edit2', 'heat']);
  });

  it('reorders ranked items among their own places, leaving the others where they are', () => {
    // A camera node first and a heat layer between: vtk's renderer node children.
    const nodes = ['camera', 'image', 'edit', 'heat', 'reference'];
    expect(sortRankedInPlace(nodes, rankOf)).toBe(true);
    expect(nodes).toEqual(['camera', 'image', 'reference', 'heat', 'edit']);
    expect(sortRankedInPlace(nodes, rankOf)).toBe(false);
    expect(nodes).toEqual(['camera', 'image', 'reference', 'heat', 'edit']);
  });
});
