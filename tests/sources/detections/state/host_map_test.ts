import assert from "node:assert/strict";
import fc from "fast-check";
import { HostMap } from "../../../../lib/sources/detections/state/host_map.ts";

Deno.test("HostMap: any sequence of sets and deletes, merged at any point, ends as a Map does", () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("set" as const),
      id: fc.integer({ min: 1, max: 40 }),
      ip: fc.oneof(fc.ipV4(), fc.constantFrom("2001:db8::1", "2001:db8::2")),
    }),
    fc.record({ kind: fc.constant("delete" as const), id: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant("compact" as const) }),
    fc.record({ kind: fc.constant("reserve" as const), n: fc.integer({ min: 0, max: 100 }) }),
    fc.record({ kind: fc.constant("json" as const) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    let map = new HostMap();
    const model = new Map<number, string>();
    for (const o of ops) {
      if (o.kind === "set") {
        map.set(o.id, o.ip);
        model.set(o.id, o.ip);
      } else if (o.kind === "delete") {
        map.delete(o.id);
        model.delete(o.id);
      } else if (o.kind === "compact") map.compact();
      else if (o.kind === "reserve") map.reserve(o.n);
      else map = HostMap.fromJSON(JSON.parse(JSON.stringify(map)));
    }
    assert.deepEqual([...map], [...model].sort((a, b) => a[0] - b[0]));
    assert.equal(map.size, model.size);
    for (const [id, ip] of model) assert.equal(map.get(id), ip);
    const at = new Set([...model.values()].slice(0, 2));
    assert.deepEqual(
      map.idsAt(at),
      [...model].filter(([, ip]) => at.has(ip)).map(([id]) => id).sort((a, b) => a - b),
    );
  }));
});

Deno.test("HostMap.fromJSON refuses what it did not write", () => {
  for (
    const bad of [null, {}, { ids: "AAAAAQ==", v4: "", v6: [] }, { ids: "!", v4: "!", v6: [] }, {
      ids: "AAAAAgAAAAE=",
      v4: "AAAAAAAAAAA=",
      v6: [],
    }, { ids: "", v4: "", v6: [[1, "not an address"]] }]
  ) assert.throws(() => HostMap.fromJSON(bad), TypeError, JSON.stringify(bad));
});
