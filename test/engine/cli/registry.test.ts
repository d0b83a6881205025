import { describe, expect, it } from 'vitest';
import { commands } from '../../../main/cli/registry.js';
import { SUMMARIES } from '../../../main/cli/summaries.js';

describe('CLI registry', () => {
  it('lists each command once, with the name and summary of its module', async () => {
    expect(new Set(commands.map((c) => c.name)).size).toBe(commands.length);
    // Every written summary belongs to a listed command.
    expect(commands.map((c) => c.name).sort()).toEqual(Object.keys(SUMMARIES).sort());
    for (const entry of commands) {
      const cmd = await entry.load();
      expect({ name: cmd.name, summary: cmd.summary }).toEqual({ name: entry.name, summary: entry.summary });
      expect(cmd.usage).toContain(`pix2rep ${entry.name}`);
    }
  });
});
