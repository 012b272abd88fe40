/**
 * Clean-up on exit and on SIGINT/SIGTERM: temp files register a remover here, and `main.ts`
 * runs them all before it exits, whether the run ended or a signal came.
 *
 * @module
 */

const actions = new Set<() => void>();

/** Registers a synchronous clean-up action; returns a function that unregisters it. */
export function onCleanup(action: () => void): () => void {
  actions.add(action);
  return () => actions.delete(action);
}

/** Runs (and forgets) every registered action; errors are ignored. */
export function runCleanups(): void {
  for (const action of [...actions]) {
    actions.delete(action);
    try {
      action();
    } catch { /* best effort */ }
  }
}
