/**
 * Clean-up on exit and on SIGINT/SIGTERM/SIGHUP: temp files register a remover here, and
 * `main.ts` runs them all before exiting on a signal. A signal is also reported: the agent
 * registers how ({@linkcode onSignalReport}: one line in its log), and work under way registers
 * what the line should say of it ({@linkcode onSignalNote}: how much a Defense Center had
 * acknowledged), so no module reaches back up to the entry point. What a killed run (SIGKILL, a
 * crash, a power cut) left behind is removed by a later run: {@linkcode removeStaleFiles} (the
 * temp files themselves are made by `util/temp_files.ts`).
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

/** Reports a signal: its name, the exit status, and what the work under way said of itself. */
export type SignalReport = (
  signal: string,
  exitCode: number,
  notes: string[],
) => void | Promise<void>;

const reports = new Set<SignalReport>();
const notes = new Set<() => string | undefined>();

/** Registers how a signal is reported (the agent's log); returns a function that unregisters it. */
export function onSignalReport(report: SignalReport): () => void {
  reports.add(report);
  return () => reports.delete(report);
}

/**
 * Registers what a signal's report should say of work under way, asked at the time of the
 * signal ("while sending to ...: it had acknowledged 3 DATA messages"); returns a function that
 * unregisters it.
 */
export function onSignalNote(note: () => string | undefined): () => void {
  notes.add(note);
  return () => notes.delete(note);
}

/**
 * What `main.ts` does on a signal before it exits: reports it (each report writes its line at
 * once), removes the temp files, then waits for the reports to reach their destination (a
 * syslog child: bounded by `Logger.close`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const said: string[] = [];
 * const unreport = onSignalReport((signal, code, notes) => void said.push(`${signal} ${code} ${notes}`));
 * const unnote = onSignalNote(() => "while sending");
 * await stopOnSignal("SIGTERM", 143);
 * unnote();
 * unreport();
 * assert.deepEqual(said, ["SIGTERM 143 while sending"]);
 * ```
 */
export async function stopOnSignal(signal: string, exitCode: number): Promise<void> {
  const said: string[] = [];
  for (const note of notes) {
    try {
      const text = note();
      if (text) said.push(text);
    } catch { /* a note is best effort */ }
  }
  const pending: Promise<void>[] = [];
  for (const report of reports) {
    try {
      const done = report(signal, exitCode, said);
      if (done) pending.push(done);
    } catch { /* a report is best effort */ }
  }
  runCleanups();
  await Promise.allSettled(pending);
}

/** Options for {@linkcode removeStaleFiles}. */
export interface RemoveStaleOptions {
  /** Only files last modified longer ago than this are removed. @default {86400000} (a day) */
  olderThanMs?: number;
  /** The current time. @default now */
  now?: Date;
}

/**
 * Removes the regular files in `dir` whose name `match`es, that this user owns and that were
 * last modified more than a day ago: the temp files of earlier runs that were killed before they
 * could clean up. Never follows a symbolic link; failures are skipped. Who "this user" is comes
 * from a file created there and removed at once (no `--allow-sys` needed); when none can be
 * created, none could be removed either. Resolves to the paths removed.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/old.tmp`, "");
 * await Deno.utime(`${dir}/old.tmp`, new Date("2020-01-01"), new Date("2020-01-01"));
 * await Deno.writeTextFile(`${dir}/new.tmp`, "");
 * assert.deepEqual(await removeStaleFiles(dir, (name) => name.endsWith(".tmp")), [`${dir}/old.tmp`]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function removeStaleFiles(
  dir: string,
  match: (name: string) => boolean,
  options: RemoveStaleOptions = {},
): Promise<string[]> {
  const { olderThanMs = 86400_000, now = new Date() } = options;
  const removed: string[] = [];
  let uid: number | null;
  try {
    const mine = await Deno.makeTempFile({ dir, prefix: ".qualys_connector-owner-" });
    uid = (await Deno.lstat(mine)).uid;
    await Deno.remove(mine);
  } catch {
    return removed; // no such directory, or not writable: nothing could be removed there
  }
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !match(entry.name)) continue;
      const path = `${dir}/${entry.name}`;
      try {
        const info = await Deno.lstat(path);
        const age = now.getTime() - (info.mtime?.getTime() ?? now.getTime());
        if (!info.isFile || info.uid !== uid || age <= olderThanMs) continue;
        await Deno.remove(path);
        removed.push(path);
      } catch { /* gone, or not ours to remove */ }
    }
  } catch { /* not readable: nothing to sweep */ }
  return removed;
}
