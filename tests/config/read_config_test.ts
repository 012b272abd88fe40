import assert from "node:assert/strict";
import { ConfigError } from "../../lib/errors.ts";
import { OPTIONS } from "../../lib/cli/options.ts";
import { parseHostAddress } from "../../lib/config/ip_ranges.ts";
import { parseConfig, readConfig } from "../../lib/config/read_config.ts";

// The original user guide's sample, verbatim.
const SEED_SAMPLE = `# Required Parameters
user_id: dirk_g
password: 'd0ntp@n1c'
template_id: 424242
# Optional Parameters
add_host: y
ip_ranges: 192.168.1.0/24, 10.1.2.3-10.1.2.10, 42.4.2.1
proxy: https://192.168.1.100:443
proxy_username: zaphod
proxy_password: 't0w3L'
`;

Deno.test("parseConfig loads the original user guide's sample YAML", async () => {
  const c = await parseConfig(SEED_SAMPLE, "QualysGuard.yaml");
  assert.equal(c.account.userId, "dirk_g");
  assert.equal(c.account.password, "d0ntp@n1c");
  assert.equal(c.source.templateId, "424242");
  assert.equal(c.output.addHost, true);
  assert.equal(c.account.url, "https://qualysapi.qualys.com");
  assert.equal(c.account.proxy, "https://192.168.1.100:443");
  assert.equal(c.account.proxyUsername, "zaphod");
  assert.equal(c.account.proxyPassword, "t0w3L");
  assert.equal(c.output.scannerName, "QualysGuard");
  assert.equal(c.output.sourceName, "QualysGuard Scan Report");
  for (
    const [ip, inside] of [["192.168.1.77", true], ["10.1.2.10", true], ["42.4.2.1", true], [
      "10.1.2.11",
      false,
    ]] as const
  ) {
    assert.equal(c.source.ipRanges!.contains(parseHostAddress(ip)!), inside, ip);
  }
  assert.ok(Object.isFrozen(c));
});

Deno.test("parseConfig keeps every scalar a string, as YAML::XS did", async () => {
  const c = await parseConfig("user_id: 0123\npassword: no\ntemplate_id: 0042\n", "q.yaml");
  assert.equal(c.account.userId, "0123");
  assert.equal(c.account.password, "no");
  assert.equal(c.source.templateId, "0042");
});

Deno.test("parseConfig accepts add_host y/yes/n/no in any case", async () => {
  const base = "user_id: u\npassword: p\ntemplate_id: 1\n";
  for (
    const [v, want] of [["y", true], ["YES", true], ["Yes", true], ["n", false], [
      "No",
      false,
    ]] as const
  ) {
    assert.equal((await parseConfig(`${base}add_host: ${v}\n`, "q.yaml")).output.addHost, want, v);
  }
  assert.equal((await parseConfig(base, "q.yaml")).output.addHost, false);
});

const BAD: [string, string, RegExp, number][] = [
  [
    "template_id not digits",
    "template_id: 42a",
    /q\.yaml:3:14: "template_id" must be the digits/,
    3,
  ],
  ["add_host other word", "add_host: maybe", /"add_host" must be y, yes, n or no/, 4],
  ["url not https", "url: http://qualysapi.qualys.com", /"url" must be an https:\/\/ URL/, 4],
  [
    "ip_ranges bad item",
    "ip_ranges: 10.0.0.0/33, x",
    /"ip_ranges" is not valid: "10.0.0.0\/33".*prefix length/,
    4,
  ],
  ["ip_ranges reversed", "ip_ranges: 10.0.0.9-10.0.0.1", /first address is greater/, 4],
  ["proxy port", "proxy: https://p:70000", /"proxy" has a port outside 0-65535/, 4],
  ["proxy scheme", "proxy: socks5://p:1080", /"proxy" must be a URL such as/, 4],
  ["proxy_password alone", "proxy_password: x", /set both, or neither/, 4],
  ["a list value", "ip_ranges:\n  - 10.0.0.1", /single value.*comma-separated/, 5],
  ["a tab indent", "\tadd_host: y", /remove the indentation before "add_host:"/, 4],
  ["a duplicate key", "user_id: again", /each key may appear only once/, 4],
];

for (const [name, line, message, lineNo] of BAD) {
  Deno.test(`parseConfig rejects ${name} with file, line and the fix`, async () => {
    const text = `user_id: u\npassword: p\ntemplate_id: 1\n${line}\n`.replace(
      "template_id: 1\ntemplate_id",
      "template_id",
    );
    const src = name === "template_id not digits" ? `user_id: u\npassword: p\n${line}\n` : text;
    await assert.rejects(() => parseConfig(src, "q.yaml"), (e: ConfigError) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, message);
      assert.equal(e.line, lineNo);
      assert.equal(e.exitCode, 2);
      return true;
    });
  });
}

Deno.test("parseConfig says to quote a password with punctuation, without printing it", async () => {
  const secret = "@s3cr3t!pw";
  await assert.rejects(
    () => parseConfig(`user_id: u\npassword: ${secret}\ntemplate_id: 1\n`, "q.yaml"),
    (e: Error) => {
      assert.match(e.message, /^q\.yaml:2:11: .*put the value of "password" in single quotes/);
      assert.ok(!e.message.includes("s3cr3t"), e.message);
      return true;
    },
  );
  await assert.rejects(
    () => parseConfig(`user_id: u\npassword: 'it's'\n`, "q.yaml"),
    (e: Error) => {
      assert.match(e.message, /single quotes/);
      assert.ok(!e.message.includes("it's"));
      return true;
    },
  );
});

Deno.test("parseConfig requires the credentials and template_id unless told otherwise", async () => {
  await assert.rejects(
    () => parseConfig("password: p\ntemplate_id: 1\n", "q.yaml"),
    /"user_id" is missing/,
  );
  await assert.rejects(
    () => parseConfig("user_id: u\ntemplate_id: 1\n", "q.yaml"),
    /"password" is missing/,
  );
  await assert.rejects(
    () => parseConfig("user_id: u\npassword: p\n", "q.yaml"),
    /"template_id" is missing/,
  );
  await assert.rejects(
    () => parseConfig("user_id: u\npassword: ''\ntemplate_id: 1\n", "q.yaml"),
    /"password" is missing or empty/,
  );
  const c = await parseConfig("add_host: yes\n", "q.yaml", {
    credentials: false,
    templateId: false,
  });
  assert.equal(c.account.userId, undefined);
  assert.equal(
    (await parseConfig("", "q.yaml", { credentials: false, templateId: false })).output.addHost,
    false,
  );
});

Deno.test("parseConfig warns about unknown keys, naming the key and the nearest one", async () => {
  const warnings: string[] = [];
  await parseConfig("user_id: u\npassword: p\ntemplate_id: 1\nadd_hosts: y\nfoo: bar\n", "q.yaml", {
    onWarning: (m) => warnings.push(m),
  });
  assert.deepStrictEqual(warnings, [
    'q.yaml:4:1: Unknown key "add_hosts" is ignored: did you mean "add_host"?',
    'q.yaml:5:1: Unknown key "foo" is ignored',
  ]);
});

Deno.test("parseConfig treats ip_ranges none as all hosts", async () => {
  assert.equal(
    (await parseConfig("ip_ranges: none\n", "q", { credentials: false, templateId: false }))
      .source.ipRanges,
    undefined,
  );
});

Deno.test("readConfig warns when others can read the file, and names a missing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/QualysGuard.yaml`;
    await Deno.writeTextFile(path, SEED_SAMPLE, { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    const warnings: string[] = [];
    await readConfig(path, { onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /readable by other users.*chmod 600/);
    await Deno.chmod(path, 0o600);
    warnings.length = 0;
    await readConfig(path, { onWarning: (m) => warnings.push(m) });
    assert.deepStrictEqual(warnings, []);
    await assert.rejects(
      readConfig(`${dir}/missing.yaml`),
      /missing\.yaml: The plugin configuration file does not exist/,
    );
    const dflt = await readConfig(`${dir}/missing.yaml`, { missingIsDefault: true });
    assert.equal(dflt.file, "(defaults)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const CREDENTIALS = "user_id: dirk_g\npassword: 'd0ntp@n1c'\n";

Deno.test("parseConfig reads the detection source's keys; template_id is not needed there", async () => {
  const c = await parseConfig(
    `${CREDENTIALS}source: detections\nseverities: 3-5\nvuln_types: confirmed, potential, info\n` +
      "asset_group_ids: 1234, 5678\nip_ranges: 10.0.0.0/8\n",
    "q.yaml",
  );
  assert.equal(c.source.kind, "detections");
  assert.equal(c.source.templateId, undefined);
  assert.deepEqual(c.source.severities, [3, 4, 5]);
  assert.deepEqual(c.source.vulnTypes, ["confirmed", "potential", "info"]);
  assert.deepEqual(c.source.assetGroupIds, ["1234", "5678"]);
  const d = await parseConfig(`${CREDENTIALS}source: detections\nseverities: 3,4,5\n`, "q.yaml");
  assert.deepEqual(d.source.severities, [3, 4, 5]);
  assert.deepEqual(d.source.vulnTypes, ["confirmed", "potential"]);
  assert.equal(d.source.assetGroupIds, undefined);
});

Deno.test("parseConfig defaults: source report, set_os n, clear_clean_hosts y, no domain or pin", async () => {
  const c = await parseConfig(`${CREDENTIALS}template_id: 42\n`, "q.yaml");
  assert.equal(c.source.kind, "report");
  assert.equal(c.output.setOs, false);
  assert.equal(c.output.clearCleanHosts, true);
  assert.equal(c.output.domain, undefined);
  assert.equal(c.dcTrust.fingerprint, undefined);
  assert.equal(c.output.refreshDays, 7);
  const d = await parseConfig(
    `${CREDENTIALS}template_id: 42\nset_os: Y\nclear_clean_hosts: no\n` +
      `domain: Global \\ Branch A\ndc_fingerprint: sha256:${"AB".repeat(32)}\n`,
    "q.yaml",
  );
  assert.equal(d.output.setOs, true);
  assert.equal(d.output.clearCleanHosts, false);
  assert.equal(d.output.domain, "Global \\ Branch A");
  const long = await parseConfig(
    `${CREDENTIALS}template_id: 1\ndomain: 'G \\ ${"b".repeat(996)}'\n`,
    "q.yaml",
  );
  assert.equal(long.output.domain?.length, 1000); // the longest taken
  assert.equal(d.dcTrust.fingerprint, "ab".repeat(32));
});

Deno.test("parseConfig keeps a scanner or source name that folds to a good one", async () => {
  const cfg = await parseConfig(
    `${CREDENTIALS}template_id: 1\nscanner_name: 'Qualys Caf\u00e9'\nsource_name: 'Scan \uff11'\n`,
    "q.yaml",
  );
  assert.equal(cfg.output.scannerName, "Qualys Caf\u00e9");
  assert.equal(cfg.output.sourceName, "Scan \uff11");
});

Deno.test("parseConfig rejects bad values of the new keys, naming the key and its line (exit 2)", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["source: scans", "source", /must be report .* or detections/],
    ["source: detections\nseverities: 0-5", "severities", /severities 1 to 5/],
    ["source: detections\nseverities: 5-3", "severities", /severities 1 to 5/],
    ["source: detections\nvuln_types: confirmed, fixed", "vuln_types", /"fixed" is none of them/],
    ["source: detections\nasset_group_ids: 12, lab", "asset_group_ids", /"lab" is not one/],
    ["template_id: 1\nset_os: true", "set_os", /must be y, yes, n or no/],
    ["template_id: 1\nclear_clean_hosts: 1", "clear_clean_hosts", /must be y, yes, n or no/],
    ["template_id: 1\ndomain: 'Global, Branch'", "domain", /without quotes or commas/],
    // The FMC's module takes ASCII only (hostinput.md §2.1), and SetDomain heads every message.
    [
      "template_id: 1\ndomain: 'Global \\ Z\u00fcrich \u00c4mt'",
      "domain",
      /ASCII only.*"\u00fc" \(U\+00FC\)/,
    ],
    ["template_id: 1\ndomain: 'Global \\ Branch\u00a0A'", "domain", /ASCII only/],
    [`template_id: 1\ndomain: ${"x".repeat(5000)}`, "domain", /at most 1000 characters \(5000\)/],
    ["template_id: 1\ndomain: ~", "domain", /must not be empty/],
    // Empty values are refused, as for domain, not taken as the defaults.
    ["source: detections\nseverities: ''", "severities", /must not be empty/],
    ["source: detections\nseverities:", "severities", /must not be empty/],
    ["source: detections\nvuln_types: ''", "vuln_types", /must not be empty/],
    ["source: detections\nvuln_types: ~", "vuln_types", /must not be empty/],
    ["source: detections\nstate_dir: ''", "state_dir", /must not be empty/],
    ["source: detections\nstate_dir:", "state_dir", /must not be empty/],
    ["source: detections\nasset_group_ids: ' '", "asset_group_ids", /must not be empty/],
    ["template_id: 1\nrefresh_days: -1", "refresh_days", /whole number of days from 0 to 3650/],
    ["template_id: 1\nrefresh_days: 1.5", "refresh_days", /whole number of days/],
    ["template_id: 1\nrefresh_days: 3651", "refresh_days", /from 0 to 3650/],
    ["template_id: 1\nrefresh_days: ''", "refresh_days", /must not be empty/],
    ["template_id: 1\nstate_dir: ''", "state_dir", /must not be empty/],
    ["template_id: 1\ndc_fingerprint: sha1:abcd", "dc_fingerprint", /64 hex digits/],
    ['template_id: 1\nscanner_name: "O\'Brien"', "scanner_name", /quote characters/],
    ["template_id: 1\nscanner_name: Qualys, EU", "scanner_name", /commas/],
    ["template_id: 1\nscanner_name: '12345'", "scanner_name", /all digits/],
    ["template_id: 1\nscanner_name: ''", "scanner_name", /must not be empty/],
    ["template_id: 1\nsource_name: 'a\"b'", "source_name", /quote characters/],
    // Checked as sent: the commands fold non-ASCII (NFKD) or drop it.
    ["template_id: 1\nsource_name: '\uff11\uff12\uff13'", "source_name", /all digits/],
    ["template_id: 1\nscanner_name: 'O\uff07Brien'", "scanner_name", /quote characters/],
    ["template_id: 1\nscanner_name: 'EU\uff0cUS'", "scanner_name", /commas/],
    ["template_id: 1\nscanner_name: '\u20ac'", "scanner_name", /must hold ASCII letters/],
    ["template_id: 1\njson_file: '-'", "json_file", /must name a file: .*-json - on the command/],
    ["template_id: 1\nmetrics_file: ' - '", "metrics_file", /must name a file/],
    ["template_id: 1\njson_file:", "json_file", /must not be empty/],
    ["template_id: 1\nmetrics_file: ''", "metrics_file", /must not be empty/],
  ];
  for (const [yaml, key, message] of cases) {
    await t.step(yaml.replaceAll("\n", " | ").slice(0, 80), async () => {
      const line = CREDENTIALS.split("\n").length - 1 + yaml.split("\n").length;
      await assert.rejects(parseConfig(`${CREDENTIALS}${yaml}\n`, "q.yaml"), (e: ConfigError) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, new RegExp(`^q\\.yaml:${line}:\\d+: "${key}" `));
        assert.match(e.message, message);
        assert.equal(e.line, line);
        return true;
      });
    });
  }
});

Deno.test("parseConfig reads refresh_days and state_dir for both sources, without a warning", async () => {
  for (const source of ["report", "detections"]) {
    const warnings: string[] = [];
    const c = await parseConfig(
      `${CREDENTIALS}template_id: 42\nsource: ${source}\nrefresh_days: 0\nstate_dir: st\n`,
      "q.yaml",
      { onWarning: (m) => warnings.push(m) },
    );
    assert.equal(c.output.refreshDays, 0);
    assert.equal(c.source.stateDir, "st");
    assert.deepEqual(warnings, []);
  }
});

Deno.test("parseConfig warns that detection keys are ignored with source: report", async () => {
  const warnings: string[] = [];
  await parseConfig(`${CREDENTIALS}template_id: 42\nseverities: 3-5\n`, "q.yaml", {
    onWarning: (m) => warnings.push(m),
  });
  assert.deepEqual(warnings, [
    'q.yaml:4:13: "severities" applies only with source: detections: it is ignored',
  ]);
});

Deno.test("parseConfig warns when YAML syntax changes an unquoted password, never showing it", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "password",
      "Zq9pw #Xy7tail",
      /has a # after a space, which YAML reads as the start of a comment/,
    ],
    ["password", "&Zq9pw Xy7tail", /starts with &, which YAML reads as an anchor name/],
    ["password", "!Zq9pw Xy7tail", /starts with !, which YAML reads as a tag/],
    ["password", "|\n  Zq9pw Xy7tail", /starts with \| or >, which YAML reads as a block/],
    ["proxy_password", ">-\n  Zq9pw Xy7tail", /starts with \| or >, which YAML reads as a block/],
  ];
  for (const [key, value, reason] of cases) {
    await t.step(`${key}: ${value.replaceAll("\n", " | ")}`, async () => {
      const warnings: string[] = [];
      const proxy = key === "proxy_password" ? "proxy: http://p:3128\nproxy_username: z\n" : "";
      const text =
        `user_id: u\n${proxy}${key}: ${value}\n${key === "password" ? "" : "password: p\n"}` +
        "template_id: 1\n";
      await parseConfig(text, "q.yaml", { onWarning: (m) => warnings.push(m) });
      assert.equal(warnings.length, 1, warnings.join("\n"));
      const line = proxy ? 4 : 2;
      assert.match(
        warnings[0]!,
        new RegExp(`^q\\.yaml:${line}:${key.length + 3}: the value of "${key}" `),
      );
      assert.match(warnings[0]!, reason);
      assert.match(warnings[0]!, /put the whole value in single quotes, for example/);
      assert.ok(!/Zq9|Xy7/.test(warnings[0]!), "the warning shows part of the value");
    });
  }
  await t.step("quoted, or # without a space before it: no warning", async () => {
    const warnings: string[] = [];
    for (const value of ["'Zq9pw #Xy7'", '"&Zq9 !Xy7 |"', "Zq9pw#Xy7", "'Zq9' # a comment"]) {
      const c = await parseConfig(`user_id: u\npassword: ${value}\ntemplate_id: 1\n`, "q.yaml", {
        onWarning: (m) => warnings.push(m),
      });
      assert.ok(/^&?Zq9/.test(c.account.password ?? ""), "the password is read whole");
    }
    assert.deepEqual(warnings, []);
  });
});

Deno.test("parseConfig refuses a password that is a YAML alias, never showing it", async () => {
  await assert.rejects(
    parseConfig("user_id: u\npassword: *Zq9pw\ntemplate_id: 1\n", "q.yaml"),
    (e: ConfigError) => {
      assert.match(e.message, /^q\.yaml:2:11: "password" starts with \*, .*single quotes$/);
      assert.ok(!e.message.includes("Zq9"), e.message);
      return true;
    },
  );
});

Deno.test("parseConfig never quotes the YAML library's message on a secret's line", async () => {
  // The library says "Invalid escape sequence \Zq9": part of the password.
  await assert.rejects(
    parseConfig('user_id: u\npassword: "ab\\Zq9"\ntemplate_id: 1\n', "q.yaml"),
    (e: ConfigError) => {
      assert.match(e.message, /^q\.yaml:2:\d+: Cannot read the YAML \(its value is not valid YAML/);
      assert.match(e.message, /put the value of "password" in single quotes/);
      assert.ok(!e.message.includes("Zq9"), e.message);
      return true;
    },
  );
});

Deno.test("parseConfig refuses credentials in url, without showing them", async () => {
  await assert.rejects(
    parseConfig(
      "user_id: u\npassword: p\ntemplate_id: 1\nurl: https://u:Zq9pw@qualysapi.qualys.eu\n",
      "q.yaml",
    ),
    (e: ConfigError) => {
      assert.match(
        e.message,
        /^q\.yaml:4:6: "url" must not contain credentials .*user_id and password$/,
      );
      assert.ok(!e.message.includes("Zq9"), e.message);
      return true;
    },
  );
});

Deno.test("parseConfig names the key of a quoted value that runs past its line, never quoting it", async (t) => {
  const cases: [string, string, string][] = [
    // An unclosed quote: the library places the error at the end of the file, on no key's line.
    ["an unclosed double quote", 'user_id: u\npassword: "s3cr3tPW\ntemplate_id: 1\n', "s3cr3tPW"],
    ["an unclosed single quote", "user_id: u\npassword: 's3cr3tPW\n", "s3cr3tPW"],
    // A bad escape on the value's second line: "Invalid escape sequence \Zq9" is the password's.
    ["a bad escape on a continuation line", 'password: "s3cr3t\n  PW\\Zq9"\nuser_id: u\n', "Zq9"],
  ];
  for (const [name, text, secret] of cases) {
    await t.step(name, async () => {
      await assert.rejects(parseConfig(text, "q.yaml"), (e: ConfigError) => {
        assert.match(e.message, /^q\.yaml:\d+:11: .*put the value of "password" in single quotes/);
        assert.ok(!e.message.includes(secret), e.message);
        return true;
      });
    });
  }
});

Deno.test("parseConfig advises quoting from the YAML error's code, not from words in its message", async () => {
  const hint = (text: string) =>
    parseConfig(`user_id: u\npassword: 'p'\ntemplate_id: 1\n${text}\n`, "q.yaml").then(
      () => "parsed",
      (e: Error) => e.message.replace(/^.*\): /, ""),
    );
  const quote = /^put the value of "(domain|url)" in single quotes, for example/;
  // Codes whose fix is quoting (their messages hold none of "reserved", "indicator", "quote").
  assert.match(await hint('domain: "Global \\q Branch"'), quote); // BAD_DQ_ESCAPE
  assert.match(await hint("domain: &a &b Branch"), quote); // MULTIPLE_ANCHORS
  assert.match(await hint("url: !a !b x"), quote); // MULTIPLE_TAGS
  // As before: a reserved first character, an unclosed quote.
  assert.match(await hint("domain: @Branch"), quote); // BAD_SCALAR_START
  assert.match(await hint("domain: 'Branch"), quote); // MISSING_CHAR in a value
  // MISSING_CHAR outside any value is a line without its colon: quoting is not the fix.
  assert.equal(await hint("url: # nothing\nfoo"), "each line must be `key: value`");
});

Deno.test("readConfig warns about a file others can read only when it holds a password", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-config-" });
  try {
    const cases: [string, RegExp | undefined][] = [
      ["template_id: 1\nadd_host: y\n", undefined],
      ["template_id: 1\npassword: ''\n", undefined],
      [
        "user_id: u\npassword: 'p@ss'\ntemplate_id: 1\n",
        /holds your Qualys password: run chmod 600/,
      ],
      [
        "template_id: 1\nproxy: http://p:3128\nproxy_username: u\nproxy_password: 'x'\n",
        /holds your proxy password: run chmod 600/,
      ],
    ];
    for (const [text, expected] of cases) {
      const path = `${dir}/q.yaml`;
      await Deno.writeTextFile(path, text);
      await Deno.chmod(path, 0o644);
      const warnings: string[] = [];
      await readConfig(path, {
        credentials: false,
        templateId: false,
        onWarning: (m) => warnings.push(m),
      });
      const readable = warnings.filter((w) => w.includes("readable by other users"));
      if (expected === undefined) assert.deepEqual(readable, [], text);
      else {
        assert.equal(readable.length, 1, text);
        assert.match(readable[0]!, expected);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readConfig on a directory says to name the YAML file itself (exit 2)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-config-" });
  try {
    for (const given of [`${dir}/`, dir]) {
      await assert.rejects(readConfig(given), (e: ConfigError) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.exitCode, 2);
        assert.equal(
          e.message,
          `${given}: is a directory: name the plugin configuration file itself with -plugininfo, ` +
            `for example -plugininfo ${dir}/QualysGuard.yaml`,
        );
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseConfig reads json_file and metrics_file, for both sources; none by default", async () => {
  const none = await parseConfig(`${CREDENTIALS}template_id: 1\n`, "q.yaml");
  assert.deepEqual(none.monitor, { jsonFile: undefined, metricsFile: undefined });
  for (const source of ["report", "detections"]) {
    const warnings: string[] = [];
    const c = await parseConfig(
      `${CREDENTIALS}template_id: 1\nsource: ${source}\njson_file: run.json\n` +
        "metrics_file: /var/lib/node_exporter/textfile_collector/qualys_connector.prom\n",
      "q.yaml",
      { onWarning: (m) => warnings.push(m) },
    );
    assert.equal(c.monitor.jsonFile, "run.json");
    assert.equal(
      c.monitor.metricsFile,
      "/var/lib/node_exporter/textfile_collector/qualys_connector.prom",
    );
    assert.deepEqual(warnings, []);
  }
});

Deno.test("parseConfig says to remove the indentation of an indented line, not to quote a value", async () => {
  const cases: [string, number, string][] = [
    ["template_id: 1\n  user_id: u\npassword: p\n", 2, 'remove the spaces before "user_id:"'],
    ["  user_id: u\npassword: p\n", 1, 'remove the spaces before "user_id:"'],
    ["user_id: u\npassword: p\n    template_id: 4\n", 3, 'remove the spaces before "template_id:"'],
    ["user_id: u\n\tpassword: p\n", 2, 'remove the indentation before "password:"'],
  ];
  for (const [text, line, fix] of cases) {
    await assert.rejects(() => parseConfig(text, "q.yaml"), (e: ConfigError) => {
      const key = /"(\w+):"/.exec(fix)![1];
      assert.equal(
        e.message,
        `q.yaml:${line}:1: Cannot read the YAML: the line of "${key}" is indented: ${fix} ` +
          "(every line starts at the left margin: key: value)",
      );
      assert.equal(e.exitCode, 2);
      return true;
    });
  }
});

Deno.test("parseConfig on a line that is no key (a README's code fence) asks for key: value, not quotes", async () => {
  // The README's sample copied with its fence: it once said to quote the value of "the key".
  const text = "```\n# Required Parameters\nuser_id: u\npassword: p\n```\n";
  await assert.rejects(() => parseConfig(text, "q.yaml"), (e: ConfigError) => {
    assert.equal(
      e.message,
      "q.yaml:1:1: Cannot read the YAML (Plain value cannot start with reserved character `): " +
        "each line must be `key: value`",
    );
    return true;
  });
});

Deno.test("parseConfig warns that server:, port: or full: in the YAML are command-line options", async () => {
  const warnings: string[] = [];
  await parseConfig(
    "user_id: u\npassword: p\ntemplate_id: 1\nserver: 10.1.1.1\nfull: y\n",
    "q.yaml",
    { onWarning: (m) => warnings.push(m), commandLine: OPTIONS },
  );
  assert.deepEqual(warnings, [
    'q.yaml:4:1: Unknown key "server" is ignored: it is a command-line option: give it as ' +
    "-server <host> on the command line (the cron line)",
    'q.yaml:5:1: Unknown key "full" is ignored: it is a command-line option: give it as -full ' +
    "on the command line (the cron line)",
  ]);
});
