/**
 * The VMDR routes' limits and faults: the concurrency limit (409 CODE 1960), the rate limit (409
 * CODE 1965), scripted faults of a page and of a whole answer, and the request log.
 */

import assert from "node:assert/strict";
import { allPages, HLD, HOSTS, hostsOf, idsOf, KB, withVmdr } from "./_vmdr.ts";
import { at, child, parseXml, textOf } from "./_xml.ts";

Deno.test("a call over the concurrency limit gets HTTP 409 with CODE 1960", async () => {
  await withVmdr({ pageLatencyMs: 600_000, concurrencyLimit: 2 }, async (h) => {
    const a = await h.open(HLD, "action=list");
    const b = await h.open(HLD, "action=list");
    assert.equal(a.headers.get("x-concurrency-limit-running"), "0");
    assert.equal(b.headers.get("x-concurrency-limit-running"), "1");
    assert.equal(h.sim.vmdr!.running("detection"), 2);
    const c = await h.post(HLD, "action=list");
    assert.equal(c.status, 409);
    assert.equal(c.headers.get("x-concurrency-limit-limit"), "2");
    assert.equal(c.headers.get("x-concurrency-limit-running"), "2");
    const r = parseXml(c.text);
    assert.equal(r.root.name, "SIMPLE_RETURN");
    assert.equal(textOf(at(r.root, "RESPONSE")!, "CODE"), "1960");
    assert.match(textOf(at(r.root, "RESPONSE")!, "TEXT")!, /currently running API instance/);
    // another API has its own count (its page waits too)
    const other = await h.open(HOSTS, "action=list&details=None&truncation_limit=0");
    assert.equal(other.status, 200);
    // the waits end: both pages come whole, and the slots free up
    h.sim.vmdr!.releaseWaits();
    assert.match(await a.text(), /<\/HOST_LIST_VM_DETECTION_OUTPUT>/);
    assert.match(await b.text(), /<\/HOST_LIST_VM_DETECTION_OUTPUT>/);
    assert.match(await other.text(), /<\/HOST_LIST_OUTPUT>/);
    await h.sim.idle();
    assert.equal(h.sim.vmdr!.running("detection"), 0);
    h.sim.vmdr!.set({ pageLatencyMs: 0 });
    assert.equal((await h.post(HLD, "action=list")).status, 200);
    const log = h.sim.log.filter((e) => e.api === "detection");
    assert.deepStrictEqual(log.map((e) => [e.status, e.code, e.complete]), [
      [200, undefined, true],
      [200, undefined, true],
      [409, "1960", true],
      [200, undefined, true],
    ]);
  });
});

Deno.test("the rate limit answers HTTP 409 with CODE 1965 and the wait", async () => {
  await withVmdr({ rateLimit: 2, rateWindowSec: 600 }, async (h) => {
    const first = await h.post(KB, "action=list&details=None");
    assert.equal(first.headers.get("x-ratelimit-limit"), "2");
    assert.equal(first.headers.get("x-ratelimit-window-sec"), "600");
    assert.equal(first.headers.get("x-ratelimit-remaining"), "1");
    assert.equal(
      (await h.post(KB, "action=list&details=None")).headers.get("x-ratelimit-remaining"),
      "0",
    );
    const third = await h.post(KB, "action=list&details=None");
    assert.equal(third.status, 409);
    const wait = Number(third.headers.get("x-ratelimit-towait-sec"));
    assert.ok(wait > 0 && wait <= 600);
    const r = at(parseXml(third.text).root, "RESPONSE")!;
    assert.equal(textOf(r, "CODE"), "1965");
    assert.match(
      textOf(r, "TEXT")!,
      /^This API cannot be run again for another \d+ hours, \d+ minutes/,
    );
    assert.equal(textOf(at(r, "ITEM_LIST", "ITEM")!, "KEY"), "SECONDS_TO_WAIT");
    assert.equal(Number(textOf(at(r, "ITEM_LIST", "ITEM")!, "VALUE")), wait);
    assert.equal((await h.post(HLD, "action=list")).status, 200, "each API has its own window");
  });
});

Deno.test("scripted faults: 5xx on page N, a cut mid-page, 409 1960 and 1965, a SIMPLE_RETURN", async () => {
  await withVmdr({
    faults: [
      { request: 2, kind: "status", status: 502 },
      { request: 4, kind: "cut" },
      { api: "kb", request: 1, kind: "conflict", code: "1965", toWaitSec: 90 },
      { api: "kb", request: 2, kind: "conflict" },
      { api: "host", request: 1, kind: "simpleReturn", code: "2000", status: 401 },
    ],
  }, async (h) => {
    const params = "action=list&truncation_limit=10&show_results=0";
    const p1 = await h.post(HLD, params);
    const next = textOf(at(parseXml(p1.text).root, "RESPONSE", "WARNING")!, "URL")!;
    const p2 = await h.get(next); // page 2: the 5xx
    assert.equal(p2.status, 502);
    assert.match(p2.text, /<html>/);
    const p2again = await h.get(next);
    assert.equal(p2again.status, 200);
    const full = p2again.text;
    // the cut: over HTTP/2 the reset may reach the client before or after the headers
    await assert.rejects(async () => {
      const cut = await h.open(HLD, `${params}&id_min=${new URL(next).searchParams.get("id_min")}`);
      assert.equal(cut.status, 200);
      await cut.text();
    }, "the page ends in a reset, never cleanly");
    await h.sim.idle();
    const cutEntry = h.sim.log.at(-1)!;
    assert.equal(cutEntry.fault, "cut");
    assert.equal(cutEntry.complete, false);
    assert.ok(cutEntry.bytes > 0 && cutEntry.bytes < new TextEncoder().encode(full).length);

    const k1 = await h.post(KB, "action=list");
    assert.equal(k1.status, 409);
    assert.equal(k1.headers.get("x-ratelimit-towait-sec"), "90");
    assert.equal(textOf(at(parseXml(k1.text).root, "RESPONSE")!, "CODE"), "1965");
    const k2 = await h.post(KB, "action=list");
    assert.equal(k2.status, 409);
    assert.equal(textOf(at(parseXml(k2.text).root, "RESPONSE")!, "CODE"), "1960");
    assert.equal((await h.post(KB, "action=list&details=None")).status, 200);

    const bad = await h.post(HOSTS, "action=list");
    assert.equal(bad.status, 401);
    assert.equal(textOf(at(parseXml(bad.text).root, "RESPONSE")!, "CODE"), "2000");
    assert.equal(textOf(at(parseXml(bad.text).root, "RESPONSE")!, "TEXT"), "Bad Login/Password");

    // faults scripted later count from then
    h.sim.vmdr!.addFault({ request: 1, kind: "status" });
    assert.equal((await h.post(HLD, params)).status, 503);
    assert.equal((await h.post(HLD, params)).status, 200);
    assert.deepStrictEqual(
      h.sim.log.filter((e) => e.fault).map((e) => [e.api, e.fault, e.status]),
      [
        ["detection", "status", 502],
        ["detection", "cut", 200],
        ["kb", "conflict", 409],
        ["kb", "conflict", 409],
        ["host", "simpleReturn", 401],
        ["detection", "status", 503],
      ],
    );
  });
});

Deno.test("scripted faults of a whole answer: one that lists nothing, one cut by a 1980 WARNING without its URL", async () => {
  await withVmdr({
    faults: [
      { api: "host", request: 1, kind: "noHosts" },
      { api: "host", request: 2, kind: "noUrl", cutAfter: 3 },
      { request: 1, kind: "noUrl", cutAfter: 2 },
    ],
  }, async (h) => {
    const ids = (text: string) =>
      (at(parseXml(text).root, "RESPONSE", "ID_SET")?.children ?? []).map((c) => c.text);
    const params = "action=list&details=None&truncation_limit=0";
    const empty = await h.post(HOSTS, params);
    assert.equal(empty.status, 200);
    assert.deepStrictEqual(ids(empty.text), []);
    assert.equal(at(parseXml(empty.text).root, "RESPONSE", "WARNING"), undefined);
    const cut = parseXml((await h.post(HOSTS, params)).text);
    assert.equal(at(cut.root, "RESPONSE", "ID_SET")!.children.length, 3);
    const w = at(cut.root, "RESPONSE", "WARNING")!;
    assert.equal(textOf(w, "CODE"), "1980");
    assert.equal(child(w, "URL"), undefined);
    assert.equal(ids((await h.post(HOSTS, params)).text).length, 40, "then whole again");
    const page = parseXml((await h.post(HLD, "action=list&show_results=0")).text);
    assert.equal(hostsOf(page).length, 2);
    assert.equal(textOf(at(page.root, "RESPONSE", "WARNING")!, "CODE"), "1980");
    assert.deepStrictEqual(
      h.sim.log.filter((e) => e.fault).map((e) => [e.api, e.fault, e.status]),
      [["host", "noHosts", 200], ["host", "noUrl", 200], ["detection", "noUrl", 200]],
    );
  });
});

Deno.test("the request log counts every call with its status and body bytes", async () => {
  await withVmdr({ keepAlive: "none" }, async (h) => {
    const pages = await allPages(h, HLD, "action=list&truncation_limit=15&show_results=0");
    const kb = await h.post(KB, "action=list&details=None");
    const notFound = await h.post("/api/2.0/fo/nothing/", "action=list");
    assert.equal(notFound.status, 404);
    await h.sim.idle();
    const log = h.sim.log;
    assert.deepStrictEqual(log.map((e) => e.seq), log.map((_, i) => i + 1));
    assert.deepStrictEqual(log.map((e) => e.api), [...pages.map(() => "detection"), "kb", "other"]);
    assert.ok(log.every((e) => e.done && e.complete));
    const hld = log.filter((e) => e.api === "detection");
    assert.deepStrictEqual(hld.map((e) => e.records), pages.map((p) => hostsOf(p).length));
    assert.deepStrictEqual(
      hld.map((e) => e.nextIdMin),
      [...pages.slice(1).map((p) => idsOf([p])[0]), undefined],
    );
    assert.equal(hld[1]!.params.id_min, String(hld[0]!.nextIdMin));
    assert.equal(log.at(-2)!.bytes, new TextEncoder().encode(kb.text).length);
    assert.equal(log.at(-2)!.records, h.sub.kbQids().length);
  });
});
