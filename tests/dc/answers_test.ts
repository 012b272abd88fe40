/**
 * Reading the Defense Center's answers, on answers the simulator's host input module writes as the
 * real one does (`scripts/sim/fmc/host_input_session.ts`): the Done count, failures with their reasons,
 * "Must set source" (ran, counted), failures after the Done line, messages stopped by their
 * domain or a missing map, and the counting rule the reconcile relies on.
 */

import assert from "node:assert/strict";
import {
  countedCommands,
  domainRefused,
  firstCommand,
  parseDcResponse,
  unparsableLines,
} from "../../lib/dc/answers.ts";
import { MessagePacker } from "../../lib/dc/protocol.ts";
import {
  FmcState,
  HostInputSession,
  SAMPLE_DOMAINS,
  type SessionOptions,
} from "../../scripts/sim/fmc/mod.ts";

const enc = new TextEncoder();

/** One connection to a simulated FMC: each call is one DATA message, answered by the module. */
function session(options: SessionOptions & { domains?: boolean; maps?: string[] } = {}) {
  const fmc = new FmcState({
    domains: options.domains ? SAMPLE_DOMAINS : [],
    maps: options.maps ?? [],
  });
  const certDomain = options.certDomain && fmc.domains.find(options.certDomain).uuid;
  const s = new HostInputSession(fmc, certDomain ? { certDomain } : {});
  return (text: string) => {
    const answer = s.handle(text).answer!;
    return { answer, parsed: parseDcResponse(answer), sent: countedCommands(enc.encode(text)) };
  };
}

const result = (ip: string, id: string, proto = "tcp") =>
  `AddScanResult,${ip},"QualysGuard",${id},443,${proto},"t","d","cve_ids:","bugtraq_ids:"`;

Deno.test("parseDcResponse: a clean answer is its Done count and nothing else", () => {
  const send = session();
  const text = `SetSource,S\nAddHost,10.0.0.1\n${result("10.0.0.1", "1")}\nScanFlush\n`;
  const { answer, parsed, sent } = send(text);
  assert.equal(answer, "Done processing 3 commands.\n");
  assert.deepEqual(parsed, {
    done: 3,
    failures: [],
    rejected: 0,
    unsourced: [],
    stop: undefined,
    notes: [],
  });
  assert.equal(sent, 3, "SetSource is not counted");
});

Deno.test("parseDcResponse: each failed command with its reason; 'Must set source' ran and is not a failure", () => {
  const send = session();
  const { answer, parsed, sent } = send(
    `AddHost,10.0.0.1\nSetSource,S\nAddHost,10.0.0.999\n${result("10.0.0.1", "1", "icmp")}\n` +
      'AddScanResult,10.0.0.1,"QG",2,80,tcp,"t","d"\nScanFlush\n',
  );
  assert.match(answer, /^\[AddHost\]: Must set source application\n/);
  assert.equal(parsed.done, 5);
  assert.equal(sent, 5, "every line the module handled is counted, failed or not");
  assert.deepEqual(parsed.unsourced, ["[AddHost]: Must set source application"]);
  assert.equal(parsed.rejected, 3);
  assert.equal(parsed.failures.length, 3);
  assert.match(
    parsed.failures[0]!,
    /^Failed to recognize IP address: 10\.0\.0\.999 \(Failed to Execute Command: {2}Command: AddHost ip_address: 10\.0\.0\.999\)$/,
  );
  assert.match(parsed.failures[1]!, /^Wrong protocol icmp entered \(Failed to Execute Command: /);
  assert.match(parsed.failures[2]!, /^Wrong command syntax on Vuln ID: 2, CVE: , BugTraq: {2}\(/);
  assert.ok(parsed.failures.every((f) => !f.includes("HostInput.pm")), "no [file,line] suffix");
});

Deno.test("parseDcResponse: queue failures come after the Done line and count their vuln_count", () => {
  const send = session();
  const { answer, parsed } = send(
    `SetSource,S\n${result("10.0.0.999", "1")}\n${result("10.0.0.999", "2")}\nScanFlush\n`,
  );
  assert.match(answer, /^Done processing 3 commands\.\nFailed to recognize IP address/);
  assert.equal(parsed.done, 3);
  assert.equal(parsed.rejected, 2);
  assert.deepEqual(parsed.failures, [
    "Failed to recognize IP address: 10.0.0.999 (Failure to Run Scan API: Command: " +
    "AddScanResult, IP: 10.0.0.999, vuln_count = 2)",
  ]);
});

Deno.test("parseDcResponse: a message stopped by its domain has no Done line and says why", async (t) => {
  await t.step(
    "a Global certificate without SetDomain: not a leaf (the suffix on its own line)",
    () => {
      const send = session({ domains: true });
      const { answer, parsed } = send(
        `SetSource,S\nAddHost,10.0.0.1\n${result("10.0.0.1", "1")}\nScanFlush\n`,
      );
      assert.match(answer, /^\[SetSource\]: Global is not a leaf domain\n \[\/usr\/local\/sf\//);
      assert.match(answer, /Failure to Run Scan API/, "the module still runs the queue");
      assert.equal(parsed.done, undefined);
      assert.deepEqual(parsed.stop, {
        kind: "not-leaf",
        name: "Global",
        line: "[SetSource]: Global is not a leaf domain",
      });
    },
  );
  await t.step("a domain name outside ASCII: the module drops the SetDomain line unseen", () => {
    const send = session({ domains: true });
    const { parsed } = send("SetDomain,Global \\ Z\u00fcrich\nSetSource,S\n");
    assert.equal(parsed.stop?.name, "Global", "SetSource ran in the certificate's domain");
    assert.match(
      domainRefused("dc:8307", 1, parsed.stop!, "Global \\ Z\u00fcrich"),
      /\(the FMC drops a SetDomain line with characters outside ASCII without a word, so it never saw "Global \\ Zürich": give that domain's UUID instead\)/,
    );
  });
  await t.step("a domain that is not a leaf", () => {
    const send = session({ domains: true });
    const { parsed } = send("SetDomain,Global \\ West\nSetSource,S\nAddHost,10.0.0.1\n");
    assert.deepEqual(parsed.stop?.kind, "not-leaf");
    assert.equal(parsed.stop?.name, "Global \\ West");
  });
  await t.step("a domain outside the certificate's", () => {
    const send = session({ domains: true, certDomain: "Global \\ East" });
    const { parsed } = send("SetDomain,Global \\ West \\ Lab\nSetSource,S\nAddHost,10.0.0.1\n");
    assert.deepEqual(parsed.stop, {
      kind: "foreign-domain",
      name: "Global \\ West \\ Lab",
      line: "[SetDomain]: Domain Global \\ West \\ Lab is not in the certificate domain",
    });
  });
  await t.step("a UUID that names no domain", () => {
    const send = session({ domains: true });
    const { parsed } = send("SetDomain,0123456789abcdef0123456789abcdef\nSetSource,S\n");
    assert.equal(parsed.stop?.kind, "invalid-domain");
    assert.match(
      domainRefused("dc:8307", 1, parsed.stop!, "0123456789abcdef0123456789abcdef"),
      /no domain has the UUID "0123456789abcdef0123456789abcdef".*nothing was imported$/,
    );
  });
  await t.step("a missing map stops the message too", () => {
    const send = session({ maps: ["Qualys map"] });
    const { parsed } = send("SetSource,S\nSetMap,Other\nAddHost,10.0.0.1\n");
    assert.deepEqual(parsed.stop, {
      kind: "map",
      name: "Other",
      line: "Failed to find map 'Other'",
    });
  });
  await t.step("the same texts with a Done line are failures, not stops", () => {
    const send = session({ domains: true });
    send("SetDomain,Global \\ West \\ Lab\nSetSource,S\n");
    const { parsed } = send("AddHost,10.0.0.1\n"); // SetDomain lasts one message
    assert.equal(parsed.done, 1);
    assert.equal(parsed.stop, undefined);
    assert.match(parsed.failures[0]!, /^Global is not a leaf domain \(Failed to Execute/);
  });
});

Deno.test("countedCommands agrees with the module's Done count; a line it cannot parse is not counted", () => {
  const send = session({ maps: ["Qualys map"] });
  const lines = [
    "SetDomain,Global",
    "SetSourceType,Application",
    '"SetSource",S',
    "SetMap,Qualys map",
    "AddHost,10.0.0.999",
    result("10.0.0.1", "1"),
    "SetMap:Qualys map,AddHost,10.0.0.2",
    "ScanFlush",
    "ScanUpdate",
  ];
  const { parsed, sent } = send(`${lines.join("\n")}\n`);
  assert.equal(sent, 6);
  assert.equal(parsed.done, sent);
  const dropped = send(
    "SetSource,S\nAddHost,10.0.0.3\rAddHost,10.0.0.4\nAddHost,10.0.0.5\n" +
      'AddHost,10.0.0.6,caf\u00e9\nAddHost,"10.0.0.7\n',
  );
  assert.equal(dropped.answer, "Done processing 1 commands.\n", "the module says nothing of them");
  assert.equal(dropped.sent, 4);
  const payload = enc.encode(
    "SetSource,S\nAddHost,10.0.0.3\rAddHost,10.0.0.4\nAddHost,10.0.0.5\n" +
      'AddHost,10.0.0.6,caf\u00e9\nAddHost,"10.0.0.7\n',
  );
  assert.deepEqual(unparsableLines(payload), [
    'line 2 (a CR): "AddHost,10.0.0.3\\rAddHost,10.0.0.4"',
    'line 4 (a character outside ASCII): "AddHost,10.0.0.6,café"',
    'line 5 (broken quoting): "AddHost,\\"10.0.0.7"',
  ]);
  assert.equal(firstCommand(payload), "AddHost,10.0.0.3\rAddHost,10.0.0.4");
});

Deno.test("MessagePacker puts SetDomain before SetSource in every message, as the module needs", () => {
  const send = session({ domains: true });
  const packer = new MessagePacker({ maxSize: 200 });
  const lines = [
    "SetSource,S", // a command file that names its domain second
    "SetDomain,Global \\ West \\ Lab",
    ...Array.from({ length: 20 }, (_, k) => `AddHost,10.0.0.${k + 1}`),
  ];
  for (const l of lines) packer.add(l);
  packer.finish();
  const payloads = packer.take().map((p) => new TextDecoder().decode(p.bytes));
  assert.ok(payloads.length > 1);
  for (const p of payloads) {
    assert.match(p, /^SetDomain,Global \\ West \\ Lab\nSetSource,S\nAddHost,/);
    const { parsed, sent } = send(p);
    assert.equal(parsed.stop, undefined);
    assert.equal(parsed.done, sent);
  }
});
