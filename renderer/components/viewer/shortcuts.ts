/** The viewer's keyboard shortcuts: one table drives both the key handler and the help overlay. */
export interface Shortcut {
  keys: string;
  action: string;
}

export const SHORTCUTS: Shortcut[] = [
  { keys: 'V', action: 'Navigate (drag: window/level)' },
  { keys: 'B', action: 'Brush' },
  { keys: 'E', action: 'Eraser' },
  { keys: 'F', action: 'Flood fill within the slice' },
  { keys: 'P', action: 'Polygon / lasso fill (click points then double-click or Enter; or drag a freehand outline; Esc cancels)' },
  { keys: 'S', action: 'Inspect embeddings: click or drag for a similarity map (pick the backbone in the side panel)' },
  { keys: '1 … 9', action: 'Pick label 1 to 9' },
  { keys: '[ / ]', action: 'Brush smaller / larger' },
  { keys: 'Ctrl+Z', action: 'Undo' },
  { keys: 'Ctrl+Shift+Z, Ctrl+Y', action: 'Redo' },
  { keys: '↑ / ↓, wheel', action: 'Previous / next slice' },
  { keys: '← / →', action: 'Previous / next frame' },
  { keys: 'Space', action: 'Play / pause the cine' },
  { keys: 'I', action: 'Fill the unannotated slices between annotated ones (interpolation)' },
  { keys: 'A', action: 'Mark / unmark the slice as annotated' },
  { keys: 'T', action: 'Threshold-limited painting on / off' },
  { keys: 'O', action: 'Label fill / outline' },
  { keys: 'H', action: 'Hide / show the labels' },
  { keys: 'R', action: 'Reset zoom and pan; auto window' },
  { keys: 'L', action: 'One view / two views side by side (the keys act on the view last clicked or scrolled)' },
  { keys: 'Right-drag, Ctrl+drag', action: 'Window / level' },
  { keys: 'Shift+drag, middle-drag', action: 'Pan' },
  { keys: 'Ctrl+wheel, + / −', action: 'Zoom' },
  { keys: '?', action: 'This help' },
];
