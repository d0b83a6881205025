/**
 * A bounded pool for tasks that may wait on earlier ones: the experiment's downstream runs, where Mean Teacher
 * of a regime can only start once the runs its base is chosen from are done.
 */

export interface OrderedTask<T> {
  /** Indices of earlier tasks that must have finished before this one starts. */
  after?: readonly number[];
  /**
   * Runs the task on `slot` (0 … limit − 1; no two running tasks share one, so a slot can own a worker).
   * `done` holds the results of finished tasks by index (those of `after` are always there).
   */
  run: (slot: number, done: ReadonlyArray<T | undefined>) => Promise<T>;
}

/**
 * Runs at most `limit` tasks at a time and resolves with their results in the order of `tasks`, whatever order
 * they finish in. A free slot takes the earliest task whose `after` tasks are done, so with `limit` 1 the tasks
 * run exactly in the given order (as a plain loop would: every `after` points backwards). The first failure
 * rejects at once and no further task starts; tasks still running are left to the caller to stop (their
 * outcome is ignored).
 */
export function runOrdered<T>(tasks: ReadonlyArray<OrderedTask<T>>, limit: number): Promise<T[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`the pool's limit must be a positive integer, got ${limit}`);
  tasks.forEach((t, i) => {
    for (const j of t.after ?? []) if (!Number.isInteger(j) || j < 0 || j >= i) throw new Error(`task ${i} waits on task ${j}: only earlier tasks can be waited on`);
  });
  const results: Array<T | undefined> = new Array(tasks.length);
  const finished = new Array<boolean>(tasks.length).fill(false);
  const started = new Array<boolean>(tasks.length).fill(false);
  // Lowest slot first, so which slot (worker) a task gets does not depend on timing when one is free.
  const free = Array.from({ length: limit }, (_, i) => i);
  let remaining = tasks.length;
  let failed = false;

  return new Promise<T[]>((resolve, reject) => {
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    const pump = () => {
      if (failed) return;
      if (remaining === 0) {
        resolve(results as T[]);
        return;
      }
      while (free.length > 0) {
        const i = tasks.findIndex((t, k) => !started[k] && (t.after ?? []).every((j) => finished[j]));
        if (i < 0) return;
        free.sort((a, b) => a - b);
        const slot = free.shift()!;
        started[i] = true;
        let p: Promise<T>;
        try {
          p = tasks[i]!.run(slot, results);
        } catch (err) {
          fail(err);
          return;
        }
        p.then(
          (r) => {
            if (failed) return;
            results[i] = r;
            finished[i] = true;
            remaining -= 1;
            free.push(slot);
            pump();
          },
          fail,
        );
      }
    };
    pump();
  });
}
