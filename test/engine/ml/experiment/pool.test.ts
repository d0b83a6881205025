import { describe, expect, it } from 'vitest';
import { runOrdered, type OrderedTask } from '../../../../main/ml/experiment/pool.js';

/** A task whose completion the test triggers by hand, recording when it started and on which slot. */
function manual(name: string, events: string[], after?: number[]) {
  let finish!: (v: string) => void;
  let fail!: (e: Error) => void;
  let startedOn: number | null = null;
  let seen: ReadonlyArray<string | undefined> = [];
  const task: OrderedTask<string> = {
    ...(after ? { after } : {}),
    run: (slot, done) => {
      startedOn = slot;
      seen = [...done];
      events.push(`start ${name}@${slot}`);
      return new Promise<string>((res, rej) => {
        finish = (v) => {
          events.push(`end ${name}`);
          res(v);
        };
        fail = rej;
      });
    },
  };
  return {
    task,
    finish: (v = name) => finish(v),
    fail: (e: Error) => fail(e),
    get slot() {
      return startedOn;
    },
    get seen() {
      return seen;
    },
  };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('runOrdered', () => {
  it('keeps the order of submission in its results, not the order of completion', async () => {
    const ev: string[] = [];
    const [a, b, c] = [manual('a', ev), manual('b', ev), manual('c', ev)];
    const all = runOrdered([a.task, b.task, c.task], 2);
    await tick();
    expect(ev).toEqual(['start a@0', 'start b@1']);
    b.finish('B');
    await tick();
    // b's slot (1) is the one free: c takes it.
    expect(ev).toEqual(['start a@0', 'start b@1', 'end b', 'start c@1']);
    c.finish('C');
    await tick();
    a.finish('A');
    expect(await all).toEqual(['A', 'B', 'C']);
  });

  it('with limit 1 runs a task only after the previous one finished, in the given order', async () => {
    const ev: string[] = [];
    const ts = ['a', 'b', 'c'].map((n) => manual(n, ev));
    const all = runOrdered(
      ts.map((t, i) => (i === 2 ? { ...t.task, after: [0] } : t.task)),
      1,
    );
    for (const t of ts) {
      await tick();
      t.finish();
    }
    expect(await all).toEqual(['a', 'b', 'c']);
    expect(ev).toEqual(['start a@0', 'end a', 'start b@0', 'end b', 'start c@0', 'end c']);
  });

  it('starts a waiting task only when the tasks it waits on are done, and lets later ready tasks pass it', async () => {
    const ev: string[] = [];
    const a = manual('a', ev);
    const b = manual('b', ev);
    const mt = manual('mt', ev, [0, 1]);
    const d = manual('d', ev);
    const all = runOrdered([a.task, b.task, mt.task, d.task], 2);
    await tick();
    expect(ev).toEqual(['start a@0', 'start b@1']);
    a.finish('A');
    await tick();
    // mt still waits on b: the free slot goes to d, submitted after it.
    expect(ev).toEqual(['start a@0', 'start b@1', 'end a', 'start d@0']);
    b.finish('B');
    await tick();
    expect(ev.at(-1)).toBe('start mt@1');
    // It sees the results it waited on.
    expect(mt.seen.slice(0, 2)).toEqual(['A', 'B']);
    mt.finish('MT');
    d.finish('D');
    expect(await all).toEqual(['A', 'B', 'MT', 'D']);
  });

  it('rejects with the first failure at once and starts nothing more', async () => {
    const ev: string[] = [];
    const [a, b, c] = [manual('a', ev), manual('b', ev), manual('c', ev)];
    const all = runOrdered([a.task, b.task, c.task], 2);
    await tick();
    b.fail(new Error('b broke'));
    await expect(all).rejects.toThrow('b broke');
    // a is still running: the pool does not wait for it, and c never starts, even once a frees its slot.
    a.finish();
    await tick();
    expect(ev).toEqual(['start a@0', 'start b@1', 'end a']);
    expect(c.slot).toBeNull();
  });

  it('treats a task that throws before returning a promise as a failure', async () => {
    const all = runOrdered<number>(
      [
        {
          run: () => {
            throw new Error('sync');
          },
        },
        { run: async () => 2 },
      ],
      1,
    );
    await expect(all).rejects.toThrow('sync');
  });

  it('resolves an empty list and refuses bad limits and forward waits', async () => {
    expect(await runOrdered([], 3)).toEqual([]);
    expect(() => runOrdered([{ run: async () => 1 }], 0)).toThrow(/positive integer/);
    expect(() => runOrdered([{ run: async () => 1 }], 1.5)).toThrow(/positive integer/);
    expect(() => runOrdered([{ after: [1], run: async () => 1 }, { run: async () => 2 }], 1)).toThrow(/only earlier tasks/);
    expect(() => runOrdered([{ after: [0], run: async () => 1 }], 1)).toThrow(/only earlier tasks/);
  });
});
