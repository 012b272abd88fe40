import assert from "node:assert/strict";
import { OPTIONS, usage } from "../../lib/cli/options.ts";
import { parseArgv } from "../../lib/cli/parse_argv.ts";
import { checkOptionRules } from "../../lib/cli/rules.ts";
import type { UsageError } from "../../lib/errors.ts";

// Every command line printed in the original user guide, with the program name dropped
// (perl qualys_connector.pl / perl process_multiple.pl → our binary).
const SEED_LINES: [string, Record<string, unknown>][] = [
  ["-server=10.10.10.10", { server: "10.10.10.10", plugin: "QualysGuard" }],
  [
    "-server=10.10.10.10 -pkcs12=CertFile.pkcs12 -plugininfo=InputPlugins/QualysGuard.yaml",
    {
      server: "10.10.10.10",
      pkcs12: "CertFile.pkcs12",
      plugininfo: "InputPlugins/QualysGuard.yaml",
    },
  ],
  [
    "-csvfile=Output.csv -plugininfo=InputPlugins/QualysGuard.yaml",
    { csvfile: "Output.csv", plugininfo: "InputPlugins/QualysGuard.yaml" },
  ],
  ["-c=Output.csv -pl=InputPlugins/QualysGuard.yaml", {
    csvfile: "Output.csv",
    plugininfo: "InputPlugins/QualysGuard.yaml",
  }],
  ["-multiinfo 424242,535353 -server=10.10.10.10", {
    multiinfo: ["424242", "535353"],
    server: "10.10.10.10",
  }],
  [
    "-multiinfo 424242,535353 -plugininfo=InputPlugins/QualysGuard.yaml -csvfile=Output.csv",
    {
      multiinfo: ["424242", "535353"],
      plugininfo: "InputPlugins/QualysGuard.yaml",
      csvfile: "Output.csv",
    },
  ],
  [
    "-server=10.10.10.10 -pkcs12=/usr/local/qualys/CertFile.pkcs12 -plugininfo=/usr/local/qualys/InputPlugins/QualysGuard.yaml",
    {
      server: "10.10.10.10",
      pkcs12: "/usr/local/qualys/CertFile.pkcs12",
      plugininfo: "/usr/local/qualys/InputPlugins/QualysGuard.yaml",
    },
  ],
  ["-server=10.10.10.10 -syslog", { server: "10.10.10.10", syslog: true }],
  ["-server=10.10.10.10 -logfile log_name", { server: "10.10.10.10", logfile: "log_name" }],
  ["-server=10.10.10.10 -level 3", { server: "10.10.10.10", level: 3 }],
  ["-server=10.10.10.10 QualysGuard", { server: "10.10.10.10", plugin: "QualysGuard" }],
];

for (const [line, expected] of SEED_LINES) {
  Deno.test(`parseArgv parses the original guide's "${line}"`, () => {
    const o = parseArgv(line.split(" ")) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(expected)) assert.deepStrictEqual(o[k], v, k);
  });
}

Deno.test("parseArgv accepts one or two dashes, = or a space, any order, any case", () => {
  const forms = [
    ["--server", "dc", "--level=1", "csv"],
    ["csv", "-SERVER=dc", "-le", "1"],
    ["-se", "dc", "csv", "--lev", "1"],
  ];
  for (const argv of forms) {
    const o = parseArgv(argv);
    assert.equal(o.server, "dc", argv.join(" "));
    assert.equal(o.level, 1);
    assert.equal(o.plugin, "csv");
  }
});

const VALUE: Record<string, string> = { multiinfo: "1,2", pin: `sha256:${"0".repeat(64)}` };

Deno.test("parseArgv resolves every abbreviation and every full name", () => {
  for (const spec of OPTIONS) {
    for (const typed of [spec.name, spec.abbrev].filter((n) => n !== "")) {
      const argv = spec.kind === "flag"
        ? [`-${typed}`]
        : [`-${typed}`, VALUE[spec.name] ?? (spec.kind === "integer" ? "1" : "v")];
      assert.ok(parseArgv(argv).given.has(spec.name as never), typed);
    }
  }
});

Deno.test("parseArgv lets the listed abbreviations win over longer names", () => {
  assert.equal(parseArgv(["-c", "-"]).csvfile, "-"); // not -check
  assert.equal(parseArgv(["-i"]).ipv6, true); // not -insecure
  assert.equal(parseArgv(["-r", "x.xml"]).report, "x.xml");
  assert.equal(parseArgv(["-pa", "secret"]).password, "secret");
  assert.equal(parseArgv(["-ch"]).check, true); // a unique prefix of check
  assert.equal(parseArgv(["-cs", "f"]).csvfile, "f");
  assert.equal(parseArgv(["-ins"]).insecure, true);
  assert.equal(parseArgv(["-h"]).help, true);
  assert.equal(parseArgv(["-v"]).version, true);
});

Deno.test("parseArgv names the candidates of an ambiguous option", () => {
  assert.throws(() => parseArgv(["-s", "x"]), {
    name: "UsageError",
    message:
      'Option "-s" is ambiguous: it could be -server, -syslog, -stderr, -status; type more of ' +
      "the name",
  });
  assert.throws(() => parseArgv(["-p", "x"]), /could be -port, -plugininfo, -pkcs12, -password/);
  assert.throws(() => parseArgv(["-l", "1"]), /could be -logfile, -level/);
});

Deno.test("parseArgv rejects unknown options with a hint, and bad values", () => {
  assert.throws(() => parseArgv(["-prot", "1"]), {
    message: 'Unknown option "-prot": did you mean "-port"?',
  });
  assert.throws(() => parseArgv(["-zzzzzzz"]), { message: 'Unknown option "-zzzzzzz"' });
  assert.throws(() => parseArgv(["-level", "4"]), /must be a number from 0 to 3/);
  assert.throws(() => parseArgv(["-port", "65536"]), /from 0 to 65535/);
  assert.throws(() => parseArgv(["-level"]), /needs a value/);
  assert.throws(() => parseArgv(["-syslog=1"]), /does not take a value/);
  assert.throws(() => parseArgv(["-multiinfo", "1, 2"]), /without spaces/);
  assert.throws(() => parseArgv(["nessus"]), /Unknown plugin "nessus"/);
  assert.throws(() => parseArgv(["csv", "csv"]), /Only one plugin word/);
  for (const bad of [["-prot"], ["-level", "9"]]) {
    assert.throws(() => parseArgv(bad), (e: UsageError) => e.exitCode === 2);
  }
});

Deno.test("parseArgv takes a value that starts with a dash, and stops at --", () => {
  assert.equal(parseArgv(["-c", "-"]).csvfile, "-");
  assert.equal(parseArgv(["-password", "-x-"]).password, "-x-");
  assert.equal(parseArgv(["--", "csv"]).plugin, "csv");
  assert.throws(() => parseArgv(["--", "-c"]), /Unknown plugin "-c"/);
});

Deno.test("usage lists every option and abbreviation", () => {
  const text = usage();
  for (const o of OPTIONS) {
    assert.ok(text.includes(`-${o.name}`), o.name);
    if (o.abbrev) assert.ok(text.includes(`|-${o.abbrev}`), o.abbrev);
  }
});

Deno.test("checkOptionRules warns that -full changes nothing with -csvfile, and not with -server", () => {
  const warnings: string[] = [];
  const warn = (m: string) => void warnings.push(m);
  checkOptionRules(parseArgv(["-full", "-c", "out.csv"]), { phase: "start", warn });
  assert.deepEqual(warnings, [
    "-full changes nothing with -csvfile: a file gets every host every run (-full is for a " +
    "Defense Center, which otherwise gets only what changed)",
  ]);
  checkOptionRules(parseArgv(["-full", "-server", "10.0.0.1"]), { phase: "start", warn });
  assert.equal(warnings.length, 1);
});

Deno.test("parseArgv takes -timeout in seconds, -full, and -pin as sha256 with or without colons", () => {
  assert.equal(parseArgv(["-timeout", "90"]).timeout, 90);
  assert.equal(parseArgv(["-t", "5"]).timeout, 5); // no other option starts with t
  assert.throws(() => parseArgv(["-timeout", "0"]), /must be a number from 1 to 3600/);
  assert.equal(parseArgv(["-full"]).full, true);
  assert.equal(parseArgv([]).full, false);
  const hex = "0123456789abcdef".repeat(4);
  assert.equal(parseArgv(["-pin", `sha256:${hex}`]).pin, hex);
  assert.equal(
    parseArgv(["-pin", `SHA256:${hex.toUpperCase().match(/../g)!.join(":")}`]).pin,
    hex,
  );
  assert.throws(() => parseArgv(["-pin", "abc"]), {
    name: "UsageError",
    message: /"-pin": it must be sha256: followed by the certificate's 64 hex digits/,
  });
});

// The options issue 20 adds (those of them this tree has); the others are the old ones.
const ISSUE_20 = ["dry-run", "status", "json", "metrics"];

Deno.test("parseArgv: the options of issue 20 take no old option's name, abbreviation or unambiguous prefix", () => {
  const old = OPTIONS.filter((o) => !ISSUE_20.includes(o.name));
  const resolves = (o: (typeof OPTIONS)[number], typed: string) => {
    const argv = o.kind === "flag"
      ? [`-${typed}`]
      : [`-${typed}`, VALUE[o.name] ?? (o.kind === "integer" ? "1" : "v")];
    const given = parseArgv(argv).given;
    return given.size === 1 && given.has(o.name as never);
  };
  let prefixes = 0;
  for (const o of old) {
    for (let n = 1; n <= o.name.length; n++) {
      const typed = o.name.slice(0, n);
      const matches = old.filter((x) => x.name.startsWith(typed) || x.abbrev.startsWith(typed));
      const wasThis = old.some((x) => x.abbrev === typed)
        ? o.abbrev === typed
        : matches.length === 1;
      if (!wasThis) continue;
      prefixes++;
      assert.ok(resolves(o, typed), `-${typed} was -${o.name}`);
      assert.ok(resolves(o, typed.toUpperCase()), `-${typed.toUpperCase()} was -${o.name}`);
    }
    if (o.abbrev) assert.ok(resolves(o, o.abbrev), `-${o.abbrev} is -${o.name}`);
  }
  assert.ok(prefixes > 60, `${prefixes} prefixes`);
  // the ones a cron line is likely to hold
  assert.equal(parseArgv(["-st"]).stderr, true);
  assert.equal(parseArgv(["-m", "1"]).multiinfo?.[0], "1");
  assert.equal(parseArgv(["-r", "x"]).report, "x");
  assert.equal(parseArgv(["-c", "x"]).csvfile, "x");
  assert.equal(parseArgv(["-f"]).full, true);
});

Deno.test("parseArgv: -dry-run by any unambiguous prefix, -d included, with one or two dashes", () => {
  for (const typed of ["-d", "-dr", "-dry", "-dry-", "--dry-run", "-DRY-RUN", "-Dry-Run"]) {
    const cli = parseArgv([typed, "-c", "-"]);
    assert.equal(cli.dryRun, true, typed);
    assert.ok(cli.given.has("dry-run"), typed);
  }
  assert.equal(parseArgv(["-c", "-"]).dryRun, false);
  assert.throws(() => parseArgv(["-dry-run=1"]), /does not take a value/);
});

// The options before issue 20 added -dry-run, -status, -json and -metrics: the original's (with
// its abbreviations), then this connector's. Whatever a cron line holds of them must mean what
// it meant.
const BEFORE_ISSUE_20: readonly (readonly [string, string])[] = [
  ["server", "se"],
  ["port", "po"],
  ["plugininfo", "pl"],
  ["ipv6", "i"],
  ["pkcs12", "pk"],
  ["password", "pa"],
  ["syslog", "sy"],
  ["stderr", "st"],
  ["logfile", "lo"],
  ["level", "le"],
  ["csvfile", "c"],
  ["multiinfo", "m"],
  ["report", "r"],
  ["check", ""],
  ["insecure", ""],
  ["pin", ""],
  ["timeout", ""],
  ["full", ""],
  ["help", ""],
  ["version", ""],
];

// What `typed` meant with the options before issue 20 (Getopt::Long's rules, as parse_argv.ts
// applies them): the abbreviation, the full name, else the one name or abbreviation it starts.
function meantBefore(typed: string): string | undefined {
  const byAbbrev = BEFORE_ISSUE_20.find(([, a]) => a === typed);
  if (byAbbrev) return byAbbrev[0];
  if (BEFORE_ISSUE_20.some(([n]) => n === typed)) return typed;
  const matches = BEFORE_ISSUE_20.filter(([n, a]) =>
    n.startsWith(typed) || (a !== "" && a.startsWith(typed))
  );
  return matches.length === 1 ? matches[0]![0] : undefined;
}

function argvFor(name: string, typed: string): string[] {
  const spec = OPTIONS.find((o) => o.name === name)!;
  if (spec.kind === "flag") return [`-${typed}`];
  return [`-${typed}`, VALUE[name] ?? (spec.kind === "integer" ? "1" : "v")];
}

Deno.test("every old full name, abbreviation and unambiguous prefix means what it meant before -dry-run, -status, -json, -metrics", () => {
  let checked = 0;
  for (const [name] of BEFORE_ISSUE_20) {
    for (let n = 1; n <= name.length; n++) {
      for (const typed of [name.slice(0, n), name.slice(0, n).toUpperCase()]) {
        const before = meantBefore(typed.toLowerCase());
        if (before === undefined) continue; // ambiguous before: no cron line holds it
        const o = parseArgv(argvFor(before, typed));
        assert.deepEqual([...o.given], [before], `-${typed}`);
        checked++;
      }
    }
  }
  for (const [name, abbrev] of BEFORE_ISSUE_20) {
    if (abbrev) assert.deepEqual([...parseArgv(argvFor(name, abbrev)).given], [name], abbrev);
  }
  assert.ok(checked > 100, `only ${checked} prefixes checked`);
});

Deno.test("the new options: -dry-run, -status, -json and -metrics by full name and by their shortest prefixes; -st stays -stderr, -m -multiinfo", () => {
  const cases: [string[], string][] = [
    [["-dry-run"], "dry-run"],
    [["--dry-run"], "dry-run"],
    [["-d"], "dry-run"],
    [["-dry"], "dry-run"],
    [["-status"], "status"],
    [["-sta"], "status"],
    [["-json", "run.json"], "json"],
    [["-j", "-"], "json"],
    [["-metrics", "qc.prom"], "metrics"],
    [["-me", "qc.prom"], "metrics"],
    [["-st"], "stderr"],
    [["-std"], "stderr"],
    [["-m", "1"], "multiinfo"],
    [["-mu", "1"], "multiinfo"],
  ];
  for (const [argv, name] of cases) {
    assert.deepEqual([...parseArgv(argv).given], [name], argv.join(" "));
  }
  assert.equal(parseArgv(["-json", "-"]).json, "-");
  assert.equal(
    parseArgv(["-metrics=/var/lib/node_exporter/qc.prom"]).metrics,
    "/var/lib/node_exporter/qc.prom",
  );
  assert.throws(
    () => parseArgv(["-s"]),
    /ambiguous: it could be -server, -syslog, -stderr, -status/,
  );
  assert.throws(() => parseArgv(["-metrics", "-"]), {
    name: "UsageError",
    message: /^-metrics needs a file .*not -: for the run on standard output, use -json -$/,
  });
  assert.throws(() => parseArgv(["-json", ""]), /"-json" needs a non-empty value/);
});

Deno.test("the option table names each option once", () => {
  const names = OPTIONS.map((o) => o.name);
  assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), []);
});
