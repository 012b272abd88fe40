import assert from "node:assert/strict";
import {
  type BufferOutcome,
  type FmcOptions,
  FmcState,
  HostInputSession,
  parseCsvLine,
  replayCommands,
  SAMPLE_DOMAINS,
  type SessionOptions,
} from "../../../scripts/sim/fmc/mod.ts";

// The module's log lines end in " [<file>,<line>]"; tests match the text, not the line number.
function plain(text: string | undefined): string | undefined {
  return text?.replace(
    / \[\/usr\/local\/sf\/lib\/perl\/5\.10\.1\/SF\/SFDataCorrelator\/HostInput\.pm,\d+\]/g,
    " [HostInput.pm]",
  );
}

function open(fmcOptions: FmcOptions = {}, options: SessionOptions = {}) {
  const fmc = new FmcState(fmcOptions);
  const session = new HostInputSession(fmc, options);
  const send = (text: string): string | undefined => plain(session.handle(text).answer);
  return { fmc, session, send, map: (d = "Global") => fmc.netmap(d) };
}

const result = (ip: string, scanner: string, id: string, port = "", proto = "") =>
  `AddScanResult,${ip},"${scanner}",${id},${port},${proto},"t${id}","d${id}","cve_ids:","bugtraq_ids:"`;

function ids(fmc: FmcState, ip: string, scanner: string, domain = "Global"): string[] {
  return (fmc.netmap(domain).dump()[ip]?.[scanner] ?? []).map((r) =>
    `${r.vulnId}/${r.port}/${r.proto}`
  );
}

const LEAF = "Global \\ West \\ Lab";

Deno.test("parseCsvLine splits as Text::CSV with allow_whitespace and binary off", () => {
  assert.deepEqual(parseCsvLine('a, "b ""q"" c" ,,d '), ["a", 'b "q" c', "", "d"]);
  assert.deepEqual(parseCsvLine("x,"), ["x", ""]);
  for (const bad of ['a,b"c', '"a" b', '"open', "a\rb", "a\x01", "caf\u00e9"]) {
    assert.equal(parseCsvLine(bad), undefined, JSON.stringify(bad));
  }
  assert.deepEqual(parseCsvLine("a\tb,c"), ["a\tb", "c"], "TAB is not binary");
});

Deno.test("HostInputSession: CSV parse failures and unknown commands are recorded, never answered, not counted", () => {
  const { session, send, map } = open();
  const answer = send('SetSource,S\nAddHost,"10.0.0.9\nAddHots,10.0.0.8\nAddHost,10.0.0.1\n');
  assert.equal(answer, "Done processing 1 commands.\n");
  const log = session.recorded.map(plain);
  assert.ok(log.some((l) => l?.startsWith('Text::CSV::parse() failed on line: AddHost,"10.0.0.9')));
  assert.ok(
    log.includes("WARN: ignoring unknown key 'AddHots'. Line: AddHots,10.0.0.8 [HostInput.pm]\n"),
  );
  assert.deepEqual([...map().hosts], ["10.0.0.1"]);
});

Deno.test("HostInputSession: SetSource lasts for the connection, across DATA messages", () => {
  const { session, send, fmc } = open();
  assert.equal(send("SetSource,Qualys Scan Report\n"), "Done processing 0 commands.\n");
  assert.equal(send("AddHost,10.0.0.1\n"), "Done processing 1 commands.\n");
  assert.equal(session.source?.name, "Qualys Scan Report");
  const other = new HostInputSession(fmc);
  assert.equal(other.source, undefined, "a new connection starts without a source");
});

Deno.test("HostInputSession: a command without a source is warned and still runs; nmimport.pl stops", () => {
  const { send, map } = open();
  assert.equal(
    send("AddHost,10.0.0.1\nSetOS,10.0.0.1,Microsoft,Windows,10\n"),
    "[AddHost]: Must set source application\n[SetOS]: Must set source application\n" +
      "Done processing 2 commands.\n",
  );
  assert.ok(map().hosts.has("10.0.0.1"));
  assert.equal(map().os.get("10.0.0.1")?.product, "Windows");
  const file = open({}, { viaSocket: false });
  assert.equal(file.send("AddHost,10.0.0.1\nAddHost,10.0.0.2\n"), "", "nmimport.pl: the file ends");
  assert.equal(file.map().hosts.size, 0);
});

Deno.test("HostInputSession: SetDomain is checked against the certificate's domain", async (t) => {
  const fmcOptions = { domains: SAMPLE_DOMAINS };
  const uuid = (path: string) => new FmcState(fmcOptions).domains.find(path).uuid;
  await t.step("a Global certificate on a multi-domain FMC must name a leaf domain", () => {
    const { send, map } = open(fmcOptions);
    const answer = send(
      `SetSource,S\nAddHost,10.0.0.1\n${result("10.0.0.1", "QG", "5")}\nScanFlush\n`,
    );
    assert.equal(
      answer,
      "[SetSource]: Global is not a leaf domain\n [HostInput.pm]\n" +
        "Global is not a leaf domain [HostInput.pm]\n" +
        "Failure to Run Scan API: \nCommand: AddScanResult, IP: 10.0.0.1, vuln_count = 1\n\n\n",
      "the buffer stops at SetSource (no Done line), yet its ScanFlush still runs",
    );
    assert.equal(map(LEAF).hosts.size, 0);
    assert.equal(
      send(`SetDomain,${LEAF}\nSetSource,S\nAddHost,10.0.0.1\n`),
      "Done processing 1 commands.\n",
    );
    assert.ok(map(LEAF).hosts.has("10.0.0.1"));
  });
  await t.step(
    "SetDomain lasts for one buffer: the next starts in the certificate's domain",
    () => {
      const { send } = open(fmcOptions);
      send(`SetDomain,${LEAF}\nSetSource,S\n`);
      assert.equal(
        plain(send("AddHost,10.0.0.1\n")),
        "Global is not a leaf domain [HostInput.pm]\n" +
          "Failed to Execute Command:  Command: AddHost ip_address: 10.0.0.1\n" +
          "Done processing 1 commands.\n",
      );
    },
  );
  await t.step(
    "a leaf certificate: its own domain by default; another domain stops the buffer",
    () => {
      const { send, map } = open(fmcOptions, { certDomain: uuid(LEAF) });
      assert.equal(send("SetSource,S\nAddHost,10.0.0.1\n"), "Done processing 1 commands.\n");
      assert.ok(map(LEAF).hosts.has("10.0.0.1"));
      assert.equal(
        send("SetDomain,Global \\ East\nAddHost,10.0.0.2\n"),
        "[SetDomain]: Domain Global \\ East is not in the certificate domain\n [HostInput.pm]\n",
      );
      assert.equal(
        send("SetDomain,Global\nAddHost,10.0.0.2\n"),
        "[SetDomain]: Domain Global is not in the certificate domain\n [HostInput.pm]\n",
      );
      assert.equal(send(`SetDomain,${uuid(LEAF)}\n`), "Done processing 0 commands.\n");
      assert.ok(!map(LEAF).hosts.has("10.0.0.2"));
    },
  );
  await t.step("unknown names and UUIDs", () => {
    const { send } = open(fmcOptions);
    assert.equal(
      send("SetDomain,Global \\ Nowhere\n"),
      "[SetDomain]: Domain Global \\ Nowhere is not in the certificate domain\n [HostInput.pm]\n",
      "over a socket an unknown domain is not named as unknown (no information leak)",
    );
    assert.equal(
      send("SetDomain,0123456789abcdef0123456789abcdef\n"),
      "[SetDomain]: Invalid domain uuid\n [HostInput.pm]\n",
    );
    const file = open(fmcOptions, { viaSocket: false });
    assert.equal(
      file.send("SetDomain,Nowhere\n"),
      "[SetDomain]: Unknown domain: Nowhere\n [HostInput.pm]\n",
    );
  });
  await t.step("a non-leaf certificate may name the leaves below it, by path or UUID", () => {
    const { send, map } = open(fmcOptions, { certDomain: uuid("Global \\ West") });
    const prod = uuid("Global \\ West \\ Prod").replaceAll("-", "").toUpperCase();
    assert.equal(
      send(`SetDomain,${prod}\nSetSource,S\nAddHost,10.0.0.3\n`),
      "Done processing 1 commands.\n",
    );
    assert.ok(map("West \\ Prod").hosts.has("10.0.0.3"));
    assert.equal(
      send("SetDomain,East\n"),
      "[SetDomain]: Domain East is not in the certificate domain\n [HostInput.pm]\n",
    );
  });
  await t.step(
    "the last good buffer's network map is where a stopped buffer's ScanFlush goes",
    () => {
      const { fmc, send } = open(fmcOptions);
      send(`SetDomain,${LEAF}\nSetSource,S\n${result("10.0.0.1", "QG", "1")}\nScanFlush\n`);
      const answer = send(`SetSource,S\n${result("10.0.0.1", "QG", "2")}\nScanFlush\n`);
      assert.equal(answer, "[SetSource]: Global is not a leaf domain\n [HostInput.pm]\n");
      assert.deepEqual(
        ids(fmc, "10.0.0.1", "QG", LEAF),
        [],
        "replaced by the unhandled line: empty",
      );
    },
  );
});

Deno.test("HostInputSession: failed AddScanResult lines are still queued, so ScanFlush empties the host", () => {
  const { fmc, send } = open();
  send(`SetSource,S\n${result("10.0.0.1", "QG", "1", "443", "tcp")}\nScanFlush\n`);
  assert.deepEqual(ids(fmc, "10.0.0.1", "QG"), ["1/443/tcp"]);
  const answer = send(`${result("10.0.0.1", "QG", "2", "80", "icmp")}\nScanFlush\n`);
  assert.equal(
    answer,
    "Wrong protocol icmp entered [HostInput.pm]\n" +
      "Failed to Execute Command:  Command: AddScanResult ip_address: 10.0.0.1 scanner_id: QG " +
      "vuln_id: 2 port: 80 proto: icmp name: t2 desc: d2 cve_id_list: cve_ids: " +
      "bugtraq_id_list: bugtraq_ids:\nDone processing 2 commands.\n",
  );
  assert.deepEqual(
    ids(fmc, "10.0.0.1", "QG"),
    [],
    "the failed line's host was replaced by nothing",
  );
});

Deno.test("HostInputSession: ScanUpdate runs queued deletes first, then merges; ScanFlush runs no delete", async (t) => {
  const seed = (send: (s: string) => unknown) =>
    send(
      `SetSource,S\n${result("10.0.0.1", "QG", "1", "443", "tcp")}\n${
        result("10.0.0.1", "QG", "2", "80", "tcp")
      }\n${result("10.0.0.1", "QG", "", "22", "tcp")}\n${
        result("10.0.0.1", "NX", "7", "443", "tcp")
      }\nScanFlush\n`,
    );
  await t.step("the deletes run before the adds, whatever the line order", () => {
    const { fmc, send } = open();
    seed(send);
    send(
      `${result("10.0.0.1", "QG", "3", "25", "tcp")}\nDeleteScanResult,10.0.0.1,"QG"\nScanUpdate\n`,
    );
    assert.deepEqual(ids(fmc, "10.0.0.1", "QG"), ["/22/tcp", "3/25/tcp"], "all-vuln, then merge");
    assert.deepEqual(ids(fmc, "10.0.0.1", "NX"), ["7/443/tcp"], "another scanner is untouched");
  });
  await t.step("ScanFlush leaves the deletes queued; the next ScanUpdate runs them", () => {
    const { fmc, send } = open();
    seed(send);
    send(`DeleteScanResult,10.0.0.1,"QG",1\n${result("10.0.0.2", "QG", "9")}\nScanFlush\n`);
    assert.deepEqual(ids(fmc, "10.0.0.1", "QG"), ["/22/tcp", "1/443/tcp", "2/80/tcp"]);
    send("ScanUpdate\n");
    assert.deepEqual(ids(fmc, "10.0.0.1", "QG"), ["/22/tcp", "2/80/tcp"]);
  });
  await t.step("every DeleteScanResult form (ip, scanner_id, id_list, port, proto)", () => {
    const cases: [string, Record<string, string[]>][] = [
      ['DeleteScanResult,10.0.0.1,"QG",2', { QG: ["/22/tcp", "1/443/tcp"], NX: ["7/443/tcp"] }],
      ['DeleteScanResult,10.0.0.1,"QG","1,2",443,tcp', {
        QG: ["/22/tcp", "2/80/tcp"],
        NX: ["7/443/tcp"],
      }],
      ['DeleteScanResult,10.0.0.1,"QG", ,80,6', {
        QG: ["/22/tcp", "1/443/tcp"],
        NX: ["7/443/tcp"],
      }],
      ['DeleteScanResult,10.0.0.1,"QG"', { QG: ["/22/tcp"], NX: ["7/443/tcp"] }],
      ["DeleteScanResult,10.0.0.1,,,443,tcp", { QG: ["/22/tcp", "2/80/tcp"], NX: [] }],
      ["DeleteScanResult,10.0.0.1", { QG: [], NX: [] }],
    ];
    for (const [line, want] of cases) {
      const { fmc, send } = open();
      seed(send);
      assert.equal(send(`${line}\nScanUpdate\n`), "Done processing 2 commands.\n", line);
      assert.deepEqual(
        { QG: ids(fmc, "10.0.0.1", "QG"), NX: ids(fmc, "10.0.0.1", "NX") },
        want,
        line,
      );
    }
  });
  await t.step("a scanner without vulnerability results: its generic results go", () => {
    const { fmc, send } = open();
    send(
      `SetSource,S\n${result("10.0.0.1", "GEN", "", "22", "tcp")}\n${
        result("10.0.0.1", "GEN", "0", "23", "tcp")
      }\nScanFlush\n`,
    );
    assert.deepEqual(ids(fmc, "10.0.0.1", "GEN"), ["/22/tcp", "/23/tcp"]);
    send('DeleteScanResult,10.0.0.1,"GEN",,23,tcp\nScanUpdate\n');
    assert.deepEqual(ids(fmc, "10.0.0.1", "GEN"), ["/22/tcp"]);
    send('DeleteScanResult,10.0.0.1,"GEN"\nScanUpdate\n');
    assert.deepEqual(ids(fmc, "10.0.0.1", "GEN"), []);
  });
  await t.step(
    "a port without a protocol is wrong syntax, logged and still counted as done",
    () => {
      const { send } = open();
      assert.equal(
        send('SetSource,S\nDeleteScanResult,10.0.0.1,"QG",,443\n'),
        "Wrong command syntax on DeleteScanResult [HostInput.pm]\nDone processing 1 commands.\n" +
          "Wrong command syntax on DeleteScanResult [HostInput.pm]\n",
        "once when handled, once more when queued (the queue re-reads it per scanner)",
      );
    },
  );
});

Deno.test("HostInputSession: the disconnect runs the queued deletes and adds as ScanUpdate", () => {
  const { fmc, session, send } = open();
  send(
    `SetSource,S\n${result("10.0.0.1", "QG", "1")}\n${result("10.0.0.1", "QG", "2")}\nScanFlush\n`,
  );
  send(
    `DeleteScanResult,10.0.0.1,"QG",1\n${result("10.0.0.1", "QG", "3")}\n${
      result("10.0.0.9999", "QG", "4")
    }\n`,
  );
  assert.equal(session.queuedAdds, 2);
  assert.deepEqual(ids(fmc, "10.0.0.1", "QG"), ["1//", "2//"], "nothing runs before the end");
  const closing = plain(session.disconnect());
  assert.deepEqual(ids(fmc, "10.0.0.1", "QG"), ["2//", "3//"]);
  assert.equal(
    closing,
    "Failed to recognize IP address: 10.0.0.9999 [HostInput.pm]\n" +
      "Failure to Run Scan API: \nCommand: AddScanResult, IP: 10.0.0.9999, vuln_count = 1\n\n\n",
  );
  assert.equal(session.queuedAdds, 0);
});

Deno.test("HostInputSession: Done processing counts every line handled but SetSource, SetSourceType, SetDomain", () => {
  const { send } = open({ maps: ["Qualys map"] });
  const lines = [
    "AddHost,10.0.0.1", // warned "Must set source": counted
    "SetDomain,Global",
    "SetSourceType,Application",
    "SetSource,S",
    "SetMap,Qualys map",
    "AddHost,10.0.0.999", // failed: counted
    result("10.0.0.1", "QG", "1"),
    result("10.0.0.1", "QG", "2", "1", "icmp"), // failed: counted
    "ScanFlush",
    "ScanUpdate",
    "# a comment",
    "",
    "Nonsense,1", // unknown: not counted
  ];
  const answer = send(`${lines.join("\n")}\n`)!;
  assert.match(answer, /Done processing 7 commands\.\n$/);
});

Deno.test("HostInputSession: failures found when the queue runs come after the Done line", () => {
  const { send } = open();
  assert.equal(
    send(
      `SetSource,S\n${result("10.0.0.999", "QG", "1")}\n${
        result("10.0.0.999", "QG", "2")
      }\nScanFlush\n`,
    ),
    "Done processing 3 commands.\nFailed to recognize IP address: 10.0.0.999 [HostInput.pm]\n" +
      "Failure to Run Scan API: \nCommand: AddScanResult, IP: 10.0.0.999, vuln_count = 2\n\n\n",
  );
});

Deno.test("HostInputSession: a trailing CR stays on the line, so the line is dropped", () => {
  const { session, send, map } = open();
  assert.equal(
    send("SetSource,S\r\nAddHost,10.0.0.1\r\nAddHost,10.0.0.2\n"),
    "[AddHost]: Must set source application\nDone processing 1 commands.\n",
  );
  assert.deepEqual([...map().hosts], ["10.0.0.2"]);
  assert.equal(session.source, undefined, "the SetSource line was dropped too");
  assert.ok(
    session.recorded.some((l) =>
      l.startsWith("Text::CSV::parse() failed on line: AddHost,10.0.0.1\r")
    ),
  );
  assert.equal(send("\r\n"), "Done processing 0 commands.\n", "a lone CR is a blank line");
});

Deno.test("HostInputSession: port unchecked, protocol numeric, cve_ids: not anchored, vuln_id 0 generic", () => {
  const { fmc, send } = open();
  const answer = send(
    [
      "SetSource,S",
      result("10.0.0.1", "QG", "1", "99999", "06"),
      result("10.0.0.1", "QG", "2", "http", "17.0"),
      'AddScanResult,10.0.0.1,"QG",3,1,0,"t","d","see cve_ids: CVE-2014-0160","bugtraq_ids: 1"',
      'AddScanResult,10.0.0.1,"QG",0,8080,tcp,"gen","d","no header","x"',
      result("10.0.0.1", "QG", "4", "1", "TCP"),
      'AddScanResult,10.0.0.1,"QG",5,1,tcp,"t","d","CVE-1","bugtraq_ids:"',
      "ScanFlush",
    ].join("\n") + "\n",
  );
  assert.equal(
    answer,
    "Wrong protocol TCP entered [HostInput.pm]\n" +
      "Failed to Execute Command:  Command: AddScanResult ip_address: 10.0.0.1 scanner_id: QG " +
      "vuln_id: 4 port: 1 proto: TCP name: t4 desc: d4 cve_id_list: cve_ids: bugtraq_id_list: bugtraq_ids:\n" +
      "CSV Error: can not find the header: 'cve_ids:' string in 'CVE-1' [HostInput.pm]\n" +
      "Failed to Execute Command:  Command: AddScanResult ip_address: 10.0.0.1 scanner_id: QG " +
      "vuln_id: 5 port: 1 proto: 6 name: t desc: d cve_id_list: CVE-1 bugtraq_id_list: bugtraq_ids:\n" +
      "Done processing 7 commands.\n",
  );
  const got = fmc.netmap("Global").dump()["10.0.0.1"]!["QG"]!;
  assert.deepEqual(got.map((r) => [r.vulnId, r.port, r.proto, r.cves]), [
    ["", "8080", "tcp", []],
    ["1", "99999", "tcp", []],
    ["2", "http", "udp", []],
    ["3", "1", "", ["CVE-see", "CVE-2014-0160"]],
  ]);
});

Deno.test("HostInputSession: AddHost checks the MAC address", () => {
  const { send, map } = open();
  const answer = send(
    "SetSource,S\nAddHost,10.0.0.1,00:11:22:33:44:5G\nAddHost,10.0.0.2,00:11:22:33:44:55\n" +
      "AddHost,,00:11:22:33:44:66\nAddHost,,bad\nAddHost,10.0.0.3,0\n",
  );
  assert.equal(
    answer,
    "Failed to recognize MAC address: 00:11:22:33:44:5G [HostInput.pm]\n" +
      "Failed to Execute Command:  Command: AddHost ip_address: 10.0.0.1 mac_address: 00:11:22:33:44:5G\n" +
      "Failed to recognize MAC address: bad [HostInput.pm]\n" +
      "Failed to Execute Command:  Command: AddHost ip_address:  mac_address: bad\n" +
      "Done processing 5 commands.\n",
  );
  assert.deepEqual([...map().hosts].sort(), ["00:11:22:33:44:66", "10.0.0.2", "10.0.0.3"]);
  assert.equal(map().macs.get("10.0.0.2"), "00:11:22:33:44:55");
});

Deno.test("HostInputSession: a missing map (SetMap or the SetMap: prefix) stops the buffer", () => {
  const { session, send, map } = open({ maps: ["Qualys map"] });
  assert.equal(
    send("SetSource,S\nSetMap,Other\nAddHost,10.0.0.1\n"),
    "Failed to find map 'Other' [HostInput.pm]\n",
  );
  assert.equal(
    send("SetMap:Other,AddHost,10.0.0.2\nAddHost,10.0.0.3\n"),
    "Failed to find map 'Other' [HostInput.pm]\n",
  );
  assert.equal(map().hosts.size, 0);
  assert.equal(
    send("SetMap:Qualys map,AddHost,10.0.0.4\nSetMap,Qualys map\nAddHost,10.0.0.5\n"),
    " (map using 'Qualys map')\nDone processing 3 commands.\n",
  );
  assert.deepEqual([...map().hosts], ["10.0.0.4", "10.0.0.5"]);
  assert.equal(session.currentMap, "Qualys map");
});

Deno.test("HostInputSession: source and scanner names are SQL-interpolated: quote, digits, empty", async (t) => {
  await t.step("a quote in SetSource ends the module: no answer, nothing queued runs", () => {
    const { fmc, session } = open();
    session.handle(`SetSource,S\n${result("10.0.0.1", "QG", "1")}\n`);
    const r: BufferOutcome = session.handle("SetSource,O'Brien scans\nAddHost,10.0.0.1\n");
    assert.equal(r.answer, undefined);
    assert.match(r.died!, /quote in application name "O'Brien scans" breaks the SQL statement/);
    assert.equal(session.disconnect(), "");
    assert.deepEqual(fmc.netmap("Global").dump(), {}, "the queued result died with the module");
    assert.throws(() => session.handle("AddHost,10.0.0.2\n"), /died on this connection/);
  });
  await t.step("a quote in a scanner name ends it when the queue runs", () => {
    const { session } = open();
    const r = session.handle(`SetSource,S\n${result("10.0.0.1", "Q'G", "1")}\nScanFlush\n`);
    assert.match(r.died!, /scanner name "Q'G"/);
  });
  await t.step("all digits name an existing source or scanner, else none", () => {
    const { fmc, session, send } = open();
    assert.equal(send("SetSourceType,Scanner\nSetSource,1\n"), "Done processing 0 commands.\n");
    assert.deepEqual(session.source, { kind: "scanner", id: 1, name: "Nmap" });
    send(`${result("10.0.0.1", "1", "5")}\n${result("10.0.0.1", "77", "6")}\nScanFlush\n`);
    assert.deepEqual(Object.keys(fmc.netmap("Global").dump()["10.0.0.1"]!), ["Nmap"]);
    assert.equal(
      send("SetSource,42\nAddHost,10.0.0.1\n"),
      "[AddHost]: Must set source application\nDone processing 1 commands.\n",
    );
  });
  await t.step(
    "an empty name is no source; an empty scanner stores nothing and reports nothing",
    () => {
      const { fmc, session, send } = open();
      send("SetSource,S\n");
      assert.equal(
        send("SetSource,\nAddHost,10.0.0.1\n"),
        "[AddHost]: Must set source application\nDone processing 1 commands.\n",
      );
      assert.equal(session.source, undefined, "the earlier source is gone");
      assert.equal(
        send(`${result("10.0.0.1", "", "5")}\nScanFlush\n`),
        "Done processing 2 commands.\n",
      );
      assert.deepEqual(fmc.netmap("Global").dump(), {});
    },
  );
});

Deno.test("HostInputSession: SetOS stores vendor, product and version per host", () => {
  const { send, map } = open();
  const answer = send(
    'SetSource,S\nSetOS,10.0.0.1,Microsoft,Windows,"10 Pro"\nSetOS,"10.0.0.2, 10.0.0.3",Apple,iOS\n' +
      "SetOS,10.0.0.999,X,Y,Z\nSetOS,10.0.0.4\n",
  );
  assert.equal(
    answer,
    "'10.0.0.999' is not a valid address [HostInput.pm]\nDone processing 4 commands.\n",
  );
  assert.deepEqual(map().dumpOs(), {
    "10.0.0.1": { vendor: "Microsoft", product: "Windows", version: "10 Pro" },
    "10.0.0.2": { vendor: "Apple", product: "iOS", version: undefined },
    "10.0.0.3": { vendor: "Apple", product: "iOS", version: undefined },
  });
  send("UnsetOS,10.0.0.1\n");
  assert.deepEqual(Object.keys(map().dumpOs()), ["10.0.0.2", "10.0.0.3"]);
});

Deno.test("replayCommands replays a command file as one connection whose end is a disconnect", () => {
  const fmc = new FmcState();
  const r = replayCommands(fmc, [
    `SetSource,S\n${result("10.0.0.1", "QG", "1")}\n`,
    `${result("10.0.0.1", "QG", "2")}\nScanUpdate\n${result("10.0.0.2", "QG", "3")}\n`,
  ]);
  assert.deepEqual(r.answers, ["Done processing 1 commands.\n", "Done processing 3 commands.\n"]);
  assert.deepEqual(ids(fmc, "10.0.0.1", "QG"), ["1//", "2//"], "queued across messages");
  assert.deepEqual(ids(fmc, "10.0.0.2", "QG"), ["3//"], "run at the end of the file");
  assert.equal(r.closing, "");
  assert.equal(r.session.source?.name, "S");
});
