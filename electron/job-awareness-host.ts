/**
 * Carries out JobAwareness's decisions with Electron: a powerSaveBlocker while jobs run, a desktop
 * notification when one ends. Thin on purpose; the decisions are tested in job-awareness.ts.
 */
import { Notification, powerSaveBlocker } from 'electron';
import { JobAwareness, type AwarenessAction } from './job-awareness.js';
import type { LogLine } from './log.js';

export interface JobAwarenessHost {
  /** Feed every event envelope the engine host relays. */
  onEngineEvent(message: string): void;
  /** Release the blocker (quit). */
  dispose(): void;
}

export function startJobAwareness(log: LogLine): JobAwarenessHost {
  const awareness = new JobAwareness();
  let blocker: number | null = null;
  // Electron drops a Notification that is garbage-collected while shown; keep the live ones referenced.
  const shown = new Set<Notification>();

  const apply = (actions: AwarenessAction[]) => {
    for (const a of actions) {
      if (a.type === 'keepAwake') {
        if (a.on && blocker === null) {
          // App suspension only: the display may still sleep, the computation may not.
          blocker = powerSaveBlocker.start('prevent-app-suspension');
          log('jobs: a job is running; keeping the machine awake');
        } else if (!a.on && blocker !== null) {
          powerSaveBlocker.stop(blocker);
          blocker = null;
          log('jobs: no job running; the machine may sleep again');
        }
      } else if (Notification.isSupported()) {
        const n = new Notification({ title: a.title, body: a.body });
        shown.add(n);
        n.on('close', () => shown.delete(n));
        // 'close' does not fire everywhere (a notification centre may keep it): bound the set.
        if (shown.size > 20) shown.delete(shown.values().next().value!);
        n.show();
      } else {
        log(`jobs: ${a.title}: ${a.body}`);
      }
    }
  };

  return {
    onEngineEvent: (message) => apply(awareness.onEvent(message)),
    dispose: () => apply(awareness.reset()),
  };
}
