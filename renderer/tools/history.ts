import type { SliceDiff } from './edit.js';

/** A slice the command marked as annotated (undo unmarks it again). */
export interface MarkChange {
  frame: number;
  k: number;
  before: boolean;
  after: boolean;
}

/** One user action (a stroke, a fill, a polygon): undone and redone as a whole. */
export interface EditCommand {
  name: string;
  diffs: SliceDiff[];
  marks?: MarkChange[];
}

/**
 * Undo/redo stacks of edit commands. A new command clears the redo stack (the usual linear history); the
 * oldest commands are dropped past `limit` voxels' worth of diffs so a long session cannot grow memory
 * without bound.
 */
export class EditHistory {
  private done: EditCommand[] = [];
  private undone: EditCommand[] = [];
  private voxels = 0;

  constructor(readonly limitVoxels = 20_000_000) {}

  get canUndo(): boolean {
    return this.done.length > 0;
  }

  get canRedo(): boolean {
    return this.undone.length > 0;
  }

  get size(): { undo: number; redo: number } {
    return { undo: this.done.length, redo: this.undone.length };
  }

  push(cmd: EditCommand): void {
    if (cmd.diffs.length === 0) return;
    this.done.push(cmd);
    this.voxels += weight(cmd);
    for (const c of this.undone) this.voxels -= weight(c);
    this.undone = [];
    while (this.voxels > this.limitVoxels && this.done.length > 1) this.voxels -= weight(this.done.shift()!);
  }

  /** The command to revert (apply its diffs' `before`), or null. */
  undo(): EditCommand | null {
    const cmd = this.done.pop();
    if (!cmd) return null;
    this.undone.push(cmd);
    return cmd;
  }

  /** The command to re-apply (its diffs' `after`), or null. */
  redo(): EditCommand | null {
    const cmd = this.undone.pop();
    if (!cmd) return null;
    this.done.push(cmd);
    return cmd;
  }

  clear(): void {
    this.done = [];
    this.undone = [];
    this.voxels = 0;
  }
}

function weight(c: EditCommand): number {
  return c.diffs.reduce((n, d) => n + d.indices.length, 0);
}
