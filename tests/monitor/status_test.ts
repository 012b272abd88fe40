import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { formatStatus, NoStateDirectoryError } from "../../lib/monitor/status.ts";

const now = new Date("2026-08-01T10:00:00Z");
const outcome = (finished: string, exit_code: number, error: string | null = null) => ({
  started: finished,
  finished,
  duration_seconds: 723,
  exit_code,
  error,
});

Deno.test("formatStatus() prints one block per destination, by name, with what is known of each", () => {
  const text = formatStatus("/var/lib/qc", [
    {
      destination: "dc 10.0.0.2:8307",
      history: {
        destination: "dc 10.0.0.2:8307",
        source: "detections",
        last: outcome("2026-08-01T02:12:03Z", 5, "10.0.0.2:8307: connection refused"),
        last_success: outcome("2026-07-29T02:11:00Z", 0),
      },
      checkpoint: "2026-07-29T01:59:00Z",
      ledger: { hosts: 100000, results: 4000000, uncertain: 12, due: 14286, refreshDays: 7 },
    },
    {
      destination: "csv /srv/out.csv",
      variant: "424242",
      history: {
        destination: "csv /srv/out.csv",
        variant: "424242",
        source: "report",
        last: outcome("2026-08-01T09:59:30Z", 3, "login failed"),
        last_success: null,
      },
    },
    {
      destination: "dc 10.0.0.3:8307",
      ledger: { hosts: 1, results: 1, uncertain: 0, due: 1, refreshDays: 0 },
    },
  ], { now });
  assert.equal(
    text,
    `State directory /var/lib/qc: 3 destinations

csv /srv/out.csv (424242)
  source:       report
  last run:     2026-08-01T09:59:30Z (just now), exit 3 after 12 min 03 s: login failed
  last success: never
  recorded:     nothing yet (the next run sends every host)

dc 10.0.0.2:8307
  source:       detections
  last run:     2026-08-01T02:12:03Z (7 h ago), exit 5 after 12 min 03 s: 10.0.0.2:8307: connection refused
  last success: 2026-07-29T02:11:00Z (3 days ago), exit 0 after 12 min 03 s
  checkpoint:   2026-07-29T01:59:00Z
  recorded:     100,000 hosts, 4,000,000 results
  next run:     refreshes 14,286 unchanged hosts (refresh_days 7)
                and resends 12 hosts whose last delivery is uncertain

dc 10.0.0.3:8307
  last run:     none recorded
  recorded:     1 host, 1 result
  next run:     sends every host (refresh_days 0)
`,
  );
});

Deno.test("formatStatus() with no destination says so", () => {
  assert.equal(
    formatStatus("/var/lib/qc", [], { now }),
    "State directory /var/lib/qc: no destination has run with it yet\n",
  );
});

Deno.test("NoStateDirectoryError is a usage error (exit 2) that names the directory", () => {
  const e = new NoStateDirectoryError("/var/lib/qc");
  assert.ok(e instanceof UsageError);
  assert.equal(e.exitCode, 2);
  assert.equal(e.stateDir, "/var/lib/qc");
  assert.equal(
    e.message,
    "/var/lib/qc: no such state directory, so nothing is known of any destination yet: a run " +
      "creates it; if runs use another one, name it (state_dir in the plugin YAML)",
  );
});
