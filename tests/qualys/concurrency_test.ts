import assert from "node:assert/strict";
import { PagePacer } from "../../lib/qualys/concurrency.ts";

// Two chains of page calls on a fake clock: each page is `serverMs` without data, then
// `downloadMs` of download; a chain starts its next page after the pacer's delay. Returns the
// start times of the pages, in order.
function simulate(
  options: { serverMs: number; downloadMs: number; secondStartsAt: "once" | "data"; pages: number },
): number[] {
  let now = 0;
  const pacer = new PagePacer({ now: () => now });
  const queue: { at: number; seq: number; run: () => void }[] = [];
  let seq = 0;
  const at = (when: number, run: () => void) => {
    queue.push({ at: when, seq: seq++, run });
    queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
  };
  const starts: number[] = [];
  const page = (onData?: () => void) => {
    const call = pacer.begin(2);
    at(call.start, () => {
      starts.push(now);
      at(now + options.serverMs, () => {
        pacer.data(call);
        onData?.();
        at(now + options.downloadMs, () => {
          pacer.end(call);
          if (starts.length < options.pages) page();
        });
      });
    });
  };
  if (options.secondStartsAt === "once") {
    at(0, () => page());
    at(0, () => page());
  } else at(0, () => page(() => page())); // the second call once the first one's data has begun
  while (queue.length) {
    const e = queue.shift()!;
    now = e.at;
    e.run();
  }
  return starts;
}

Deno.test("PagePacer spaces two chains of pages half a page apart, however they started", () => {
  for (const secondStartsAt of ["once", "data"] as const) {
    const starts = simulate({ serverMs: 1000, downloadMs: 200, secondStartsAt, pages: 30 });
    const gaps = starts.slice(-10).map((s, i, a) => s - (a[i - 1] ?? s)).slice(1);
    for (const gap of gaps) {
      assert.ok(Math.abs(gap - 600) <= 1, `${secondStartsAt}: gaps ${gaps.join(", ")}`);
    }
    // and what it cost: at most one download's wait per page, the pages as many as without it
    const span = starts.at(-1)! - starts[0]!;
    assert.ok(span <= 15 * 1200, `${secondStartsAt}: ${span} ms for 30 pages`);
  }
});

Deno.test("PagePacer waits at most one download, and only when another call runs", () => {
  let now = 0;
  const pacer = new PagePacer({ now: () => now });
  const a = pacer.begin(2);
  assert.equal(a.wait, 0, "nothing known yet");
  now = 5000;
  pacer.data(a);
  const b = pacer.begin(2);
  assert.equal(b.wait, 0, "no page has ended yet");
  now = 5100;
  pacer.end(a); // a page of 5,100 ms, of which 100 ms download
  const c = pacer.begin(2);
  assert.equal(c.wait, 100, "early by 2,450 ms, but a collision costs at most 100 ms");
  assert.equal(c.start, 5200);
  pacer.end(c, false); // stopped before it started
  assert.equal(pacer.begin(1).wait, 0, "one call at a time: nothing to space");
});

Deno.test("PagePacer spaces a call from one planned but not yet started", () => {
  let now = 0;
  const pacer = new PagePacer({ now: () => now });
  const a = pacer.begin(2), b = pacer.begin(2);
  now = 1000;
  pacer.data(a);
  pacer.data(b);
  now = 1200;
  pacer.end(a);
  const a2 = pacer.begin(2); // b started with a: no wait, b is older than half a page
  assert.equal(a2.wait, 0);
  pacer.end(b); // at the same moment: b's next call is spaced from a2's start
  assert.equal(pacer.begin(2).wait, 200);
});

Deno.test("PagePacer leaves out the calls that failed or never had data", () => {
  let now = 0;
  const pacer = new PagePacer({ now: () => now });
  const a = pacer.begin(2);
  now = 1000;
  pacer.data(a);
  now = 1200;
  pacer.end(a, false); // cut: fetched again
  const b = pacer.begin(2);
  now = 1300;
  pacer.end(b); // ended without data (an error page)
  pacer.begin(2);
  assert.equal(pacer.begin(2).wait, 0, "still no page's times known");
});

Deno.test("PagePacer leaves out a page whose answer was fetched again: its wait is no download", () => {
  let now = 0;
  const pacer = new PagePacer({ now: () => now });
  const a = pacer.begin(2);
  now = 1000;
  pacer.data(a); // the download is cut at 1,100; 2 s later, and 1 s of server time, again
  now = 4100;
  pacer.data(a);
  now = 4300;
  pacer.end(a);
  pacer.begin(2);
  now = 4310;
  assert.equal(pacer.begin(2).wait, 0, "no page's clean times known yet");
});
