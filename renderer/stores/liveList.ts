import { useClient, type EngineClient } from '../api/index.js';

/**
 * The subscriptions of a store that mirrors a list the engine holds: `refresh` whenever the connection opens
 * and whenever the engine (re)starts, plus the store's own event handlers. `start` subscribes once however
 * often panels call it; `stop` drops everything.
 */
export function liveList(refresh: () => unknown, handlers: (client: EngineClient) => Array<() => void> = () => []): { start(): void; stop(): void } {
  let stops: Array<() => void> = [];
  return {
    start() {
      if (stops.length) return;
      const client = useClient();
      stops = [
        ...handlers(client),
        client.on('engine.ready', () => void refresh()),
        client.onState((state) => {
          if (state === 'open') void refresh();
        }),
      ];
      if (client.state === 'open') void refresh();
    },
    stop() {
      for (const s of stops) s();
      stops = [];
    },
  };
}
