/**
 * The simulated subscription's KnowledgeBase: the QIDs hosts can have (chosen from the catalog's
 * categories, a few the KnowledgeBase does not return), with their type, severity, category,
 * publication and modification times and revision, held in columns; the texts of an entry are
 * generated when it is read, the same for the same seed and revision.
 *
 * @module
 */

import { CATEGORIES, categoryOf } from "./catalog.ts";
import { grow } from "./columns.ts";
import { DAY } from "./dates_addresses.ts";
import { hash, Rng } from "./random.ts";
import { type KbRecord, VULN_TYPES } from "./records.ts";
import type { Timeline } from "./timeline.ts";

/** The KnowledgeBase, by entry index (stable: entries are only ever appended). */
export class KnowledgeBase {
  /** Entries, those the KnowledgeBase does not return included. */
  size = 0;
  /** QID, by entry. */
  kQid: Uint32Array = new Uint32Array(0);
  /** SEVERITY_LEVEL 1–5, by entry. */
  kSev: Uint8Array = new Uint8Array(0);
  /** VULN_TYPE as an index of VULN_TYPES, by entry. */
  kType: Uint8Array = new Uint8Array(0);
  /** Category as an index of CATEGORIES, by entry. */
  kCat: Uint8Array = new Uint8Array(0);
  /** PUBLISHED_DATETIME, epoch seconds, by entry. */
  kPub: Uint32Array = new Uint32Array(0);
  /** LAST_SERVICE_MODIFICATION_DATETIME, epoch seconds, by entry. */
  kMod: Uint32Array = new Uint32Array(0);
  /** Modifications since day 0, by entry. */
  kRev: Uint16Array = new Uint16Array(0);
  /** 1 when hosts may have the QID but the KnowledgeBase does not return it, by entry. */
  kMissing: Uint8Array = new Uint8Array(0);
  /** Entry indices by QID, ascending. */
  sorted: number[] = [];
  /** QID → entry index. */
  byQid: Map<number, number> = new Map();
  /** Popularity rank → entry index; later QIDs are appended (rare). */
  byRank: number[] = [];
  /** Entry indices of QIDs added on the current day. */
  fresh: number[] = [];
  readonly #time: Timeline;

  /** The KnowledgeBase of day 0: `sizes.qids` QIDs, a share `sizes.missingShare` of them not
   * returned. */
  constructor(time: Timeline, sizes: { qids: number; missingShare: number }) {
    this.#time = time;
    const n = sizes.qids, missingShare = sizes.missingShare;
    const rng = new Rng(hash(this.#time.seed, 0x6b62));
    const universe: number[] = [];
    for (const c of CATEGORIES) for (let q = c.lo; q <= c.hi; q++) universe.push(q);
    for (let i = 0; i < n; i++) { // partial Fisher–Yates
      const j = i + rng.int(universe.length - i);
      [universe[i], universe[j]] = [universe[j]!, universe[i]!];
    }
    const chosen = universe.slice(0, n).sort((a, b) => a - b);
    this.#reserve(n + 64);
    for (const qid of chosen) this.#push(qid, rng, -rng.int(3650) - 30, true);
    // popularity: a random permutation; draws favour low ranks
    const ranks = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [ranks[i], ranks[j]] = [ranks[j]!, ranks[i]!];
    }
    this.byRank = ranks;
    const missing = Math.max(1, Math.round(n * missingShare));
    for (let i = 0; i < missing; i++) {
      // spread over popularity so that hosts do have them; rank 0 stays known
      const rank = Math.min(n - 1, 1 + Math.floor((i * n) / (missing * 4)));
      this.kMissing[this.byRank[rank]!] = 1;
    }
  }

  #reserve(n: number): void {
    if (n <= this.kQid.length) return;
    const cap = Math.max(n, Math.ceil(this.kQid.length * 1.5));
    this.kQid = grow(this.kQid, cap);
    this.kSev = grow(this.kSev, cap);
    this.kType = grow(this.kType, cap);
    this.kCat = grow(this.kCat, cap);
    this.kPub = grow(this.kPub, cap);
    this.kMod = grow(this.kMod, cap);
    this.kRev = grow(this.kRev, cap);
    this.kMissing = grow(this.kMissing, cap);
  }

  /** Adds a QID; `day` ≤ 0 for day-0 QIDs (published in the past), else the day it appears. */
  #push(qid: number, rng: Rng, day: number, initial: boolean): number {
    this.#reserve(this.size + 1);
    const k = this.size++;
    const cat = categoryOf(qid);
    const c = CATEGORIES[cat]!;
    const type = rng.weighted(c.types.map((w, i) => [i, w] as const));
    const sevWeights = type === 2 ? [6, 3, 1, 0, 0] : c.sev;
    this.kQid[k] = qid;
    this.kCat[k] = cat;
    this.kType[k] = type;
    this.kSev[k] = 1 + rng.weighted(sevWeights.map((w, i) => [i, w] as const));
    if (initial) {
      const pub = this.#time.clockOf(day) - rng.int(DAY);
      this.kPub[k] = pub;
      this.kMod[k] = Math.min(this.#time.clockOf(0) - DAY, pub + rng.int(Math.max(1, -day) * DAY));
    } else {
      const t = this.#time.clockOf(day) - 1200 - hash(this.#time.seed, qid, day, 8) % 80000;
      this.kPub[k] = t;
      this.kMod[k] = t;
    }
    this.byQid.set(qid, k);
    // keep `sorted` ordered by QID
    let lo = 0, hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.kQid[this.sorted[mid]!]! < qid) lo = mid + 1;
      else hi = mid;
    }
    this.sorted.splice(lo, 0, k);
    return k;
  }

  /** Adds a QID of a random category on day `day`; its entry index, or -1 when none was free. */
  add(rng: Rng, day: number): number {
    for (let tries = 0; tries < 200; tries++) {
      const c = CATEGORIES[rng.int(CATEGORIES.length)]!;
      const qid = c.lo + rng.int(c.hi - c.lo + 1);
      if (!this.byQid.has(qid)) return this.#push(qid, rng, day, false);
    }
    return -1;
  }

  /** Entry `k` with its texts. */
  record(k: number): KbRecord {
    const qid = this.kQid[k]!;
    const rev = this.kRev[k]!;
    const cat = CATEGORIES[this.kCat[k]!]!;
    const r = new Rng(hash(this.#time.seed, qid, 0x7e47)); // stable across revisions
    const [product, vendor] = r.pick(cat.product);
    const sev = this.kSev[k]!;
    const type = this.kType[k]!;
    const version = `${1 + r.int(12)}.${r.int(20)}.${r.int(30)}`;
    const advisory = `${["USN", "RHSA", "DSA", "ALAS", "MS", "cisco-sa", "VMSA"][r.int(7)]}-${
      2015 + r.int(11)
    }-${String(r.int(9999)).padStart(4, "0")}`;
    const titles = type === 2
      ? [
        `${product} Version Detected`,
        `Open ${cat.name} Services List`,
        `${product} Configuration Information`,
      ]
      : [
        `${vendor} ${product} Multiple Security Vulnerabilities (${advisory})`,
        `${product} Prior to ${version} Remote Code Execution Vulnerability`,
        `${product} Denial of Service, Information Disclosure and Privilege Escalation`,
        `"${product}" Cross-Site Scripting (XSS) Vulnerability`,
        `${vendor} ${product} Télécommande Security Update for ${advisory}`,
        `${product} Security Update & Hotfix Rollup, ${advisory}`,
      ];
    let title = r.pick(titles);
    if (hash(this.#time.seed, qid, 0x7171) % 250 === 0) title = ""; // observed: an empty TITLE
    const published = this.kPub[k]!;
    const year = new Date(published * 1000).getUTCFullYear();
    const cve = (rr: Rng) => {
      const id = `CVE-${Math.min(year, 2025) - rr.int(2)}-${1000 + rr.int(48000)}`;
      return { id, url: `http://web.nvd.nist.gov/view/vuln/detail?vulnId=${id}` };
    };
    const cves: { id: string; url: string }[] = [];
    const nCve = type === 2 ? 0 : r.int(4) + (r.chance(0.3) ? 1 : 0);
    for (let i = 0; i < nCve; i++) cves.push(cve(r));
    if (cves.length && hash(this.#time.seed, qid, 0xce) % 40 === 0) cves.push({ id: "", url: "" });
    const bugtraqs: { id: string; url: string }[] = [];
    if (r.chance(0.3)) {
      for (let i = 0, n = 1 + r.int(3); i < n; i++) {
        const id = String(1000 + r.int(110000));
        bugtraqs.push({ id, url: r.chance(0.7) ? `http://www.securityfocus.com/bid/${id}` : "" });
      }
    }
    // each modification adds a CVE (what a connector's KB cache must pick up)
    for (let i = 1; i <= rev; i++) cves.push(cve(new Rng(hash(this.#time.seed, qid, i, 0xc0e))));
    const vendorRefs = type === 2 ? [] : [{
      id: advisory,
      url: `https://security.example.com/advisories/${advisory.toLowerCase()}`,
    }];
    const diagnosis = r.chance(0.9)
      ? `${product} is ${
        type === 2 ? "present on the host" : "prone to multiple vulnerabilities"
      }.` +
        `\n<P>\nAffected versions: ${product} before ${version}. See the vendor&apos;s ` +
        `<A HREF="https://security.example.com/${qid}" TARGET="_blank">advisory</A> for the ` +
        `&quot;${advisory}&quot; details.` +
        (rev ? `\n<P>Updated by the service (revision ${rev}).` : "")
      : null;
    const consequence = type === 2
      ? null
      : `Successful exploitation allows a remote attacker to execute arbitrary code, read ` +
        `sensitive information or cause a denial of service.\n<P>\nCVSS impact: ${sev}/5.`;
    const solution = type === 2
      ? null
      : `Customers are advised to upgrade ${product} to ${version} or later.` +
        `\n<P>Patch:<BR>\nFollowing are links for downloading patches to fix the vulnerabilities:\n` +
        `<A HREF="https://security.example.com/${advisory}" TARGET="_blank">${advisory}</A>` +
        (rev ? `\n<P>Revision ${rev}: the fix list was updated.` : "");
    const base = (sev * 2 - r.next()).toFixed(1);
    return {
      qid,
      inKb: !this.kMissing[k],
      vulnType: VULN_TYPES[type]!,
      severity: sev,
      title,
      category: cat.name,
      lastModified: this.kMod[k]!,
      published,
      revision: rev,
      patchable: type !== 2 && r.chance(0.8),
      cves,
      bugtraqs,
      vendorRefs,
      software: [[product.toLowerCase().replace(/ /g, "_"), vendor]],
      diagnosis,
      consequence,
      solution,
      cvss: type === 2 ? null : [base, (+base * 0.85).toFixed(1)],
      cvss3: type === 2 || r.chance(0.2)
        ? null
        : [(+base + 0.5).toFixed(1), (+base * 0.9).toFixed(1)],
      pci: sev >= 4 || r.chance(0.2),
      threatIntel: sev >= 4 ? [[2, "Exploit_Public"], [15, "Remote_Code_Execution"]] : [],
    };
  }

  /** The entry of `qid` with its texts, or undefined for a QID the subscription never had. */
  entry(qid: number): KbRecord | undefined {
    const k = this.byQid.get(qid);
    return k === undefined ? undefined : this.record(k);
  }

  /** The QIDs the KnowledgeBase returns, ascending. */
  qids(): number[] {
    return this.sorted.filter((k) => !this.kMissing[k]).map((k) => this.kQid[k]!);
  }

  /** The QIDs hosts may have but the KnowledgeBase does not return, ascending. */
  missingQids(): number[] {
    return this.sorted.filter((k) => this.kMissing[k]).map((k) => this.kQid[k]!);
  }

  /** Calls `visit` with each QID the KnowledgeBase returns, ascending, with its modification and
   * publication times (no texts are generated). */
  forEachQid(visit: (qid: number, lastModified: number, published: number) => void): void {
    for (const k of this.sorted) {
      if (!this.kMissing[k]) visit(this.kQid[k]!, this.kMod[k]!, this.kPub[k]!);
    }
  }
}
