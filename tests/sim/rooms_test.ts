/**
 * The simulators' rooms, held as tests: `scripts/sim/` is `qualys/`, `fmc/` and `net/`, each
 * with a `mod.ts`; code outside a room reaches it only through that `mod.ts`; no simulator
 * module passes 700 lines; every server the rooms start stops with `shutdown()`.
 */

import assert from "node:assert/strict";
import { startDcSim, startFaultyDc } from "../../scripts/sim/fmc/mod.ts";
import { createTestCa, startConnectProxy } from "../../scripts/sim/net/mod.ts";
import { startQualysSim } from "../../scripts/sim/qualys/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SIM = `${ROOT}scripts/sim/`;
const ROOMS = ["qualys", "fmc", "net"];

async function* files(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && e.name !== "node_modules") yield* files(`${dir}${e.name}/`);
    else if (e.name.endsWith(".ts")) yield `${dir}${e.name}`;
  }
}

function lineCount(text: string): number {
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

/** The room a path is in (`qualys`, `fmc`, `net`), or undefined outside scripts/sim/'s rooms. */
function roomOf(path: string): string | undefined {
  if (!path.startsWith(SIM)) return undefined;
  const first = path.slice(SIM.length).split("/")[0]!;
  return ROOMS.includes(first) ? first : undefined;
}

const sources = new Map<string, string>();
for (const dir of ["scripts/", "tests/", "lib/"]) {
  for await (const f of files(`${ROOT}${dir}`)) sources.set(f, await Deno.readTextFile(f));
}

Deno.test("scripts/sim/ is three rooms with a mod.ts each, and nothing else but the listed shims", async () => {
  const top: string[] = [];
  for await (const e of Deno.readDir(SIM)) top.push(e.isDirectory ? `${e.name}/` : e.name);
  assert.deepEqual(top.sort(), [...ROOMS.map((r) => `${r}/`)].sort());
  for (const room of ROOMS) assert.ok(sources.has(`${SIM}${room}/mod.ts`), `${room}/mod.ts`);
});

Deno.test("no simulator module passes 700 lines", () => {
  const big = [...sources].filter(([f]) => f.startsWith(SIM))
    .map(([f, text]) => [f.slice(SIM.length), lineCount(text)] as const)
    .filter(([, n]) => n > 700);
  assert.deepEqual(big, []);
});

Deno.test("code outside a room imports it only through its mod.ts", () => {
  const bad: string[] = [];
  for (const [file, text] of sources) {
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const target = new URL(m[1]!, `file://${file}`).pathname;
      const room = roomOf(target);
      if (room === undefined || roomOf(file) === room) continue;
      if (target !== `${SIM}${room}/mod.ts`) {
        bad.push(`${file.slice(ROOT.length)} → ${target.slice(ROOT.length)}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

// Deno's resource sanitizer fails this test if a server leaves a listener or a connection open.
Deno.test("every server the rooms start stops with shutdown()", async () => {
  const ca = createTestCa("rooms test CA");
  const servers: { shutdown(): Promise<void> }[] = [];
  try {
    const qualys = await startQualysSim({}, { ca });
    servers.push(qualys);
    const dc = await startDcSim({}, { ca });
    servers.push(dc);
    const faulty = await startFaultyDc({}, { ca });
    servers.push(faulty);
    const proxy = startConnectProxy();
    servers.push(proxy);
    // each one is listening before it is stopped
    for (const port of [new URL(qualys.url).port, dc.port, faulty.port, new URL(proxy.url).port]) {
      (await Deno.connect({ hostname: "127.0.0.1", port: Number(port) })).close();
    }
  } finally {
    for (const s of servers) await s.shutdown();
  }
});
