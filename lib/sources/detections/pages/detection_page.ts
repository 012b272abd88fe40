/**
 * The streaming extractor of one Host List Detection page
 * (`HOST_LIST_VM_DETECTION_OUTPUT`, docs/qualys_api.md section 7) on the byte-level XML scanner:
 * each `HOST` (ID, IP and/or IPV6, its `DETECTION`s: QID, PORT, PROTOCOL, STATUS), the page's
 * `RESPONSE/DATETIME`, and the paging `WARNING` (CODE 1980 and the URL of the next page).
 * Unknown elements and comments are skipped wherever they are. A detection whose STATUS is
 * Fixed is not a finding, but its host is still listed (with no open finding it is cleared).
 * A `SIMPLE_RETURN` body is the Qualys error it says. The hosts are kept in a
 * {@linkcode ListingBuffer} until the page ends whole.
 *
 * @module
 */

import type { StreamParser } from "../../../qualys/stream_body.ts";
import { type ScanHandler, XmlScanner } from "../../../xml/scanner.ts";
import { Tag } from "../../../xml/tags.ts";
import { ListingBuffer } from "./listings.ts";
import { answerDateTime } from "../../../qualys/datetime.ts";
import { ReturnCollector } from "../../../qualys/simple_return.ts";

/** What one page held. */
export interface DetectionPageStats {
  /** HOST elements. */
  hosts: number;
  /** Open detections (New, Active, Re-Opened). */
  open: number;
  /** Detections whose STATUS is Fixed. */
  fixed: number;
  /** Open detections of a TYPE the run does not import (`vuln_types`). */
  otherType: number;
  /** Detections without a usable QID (skipped). */
  noQid: number;
  /** Bytes of the page. */
  bytes: number;
}

/** One parsed page. */
export interface DetectionPage {
  /** RESPONSE/DATETIME: the server's clock when it made the page, a real UTC time (a page
   * without one is fetched again). */
  datetime: string;
  /** The paging WARNING: its CODE, TEXT and URL, when the page has one. */
  warning: { code: string; text: string; url: string } | undefined;
  /** The page's hosts, to replay into the host record. */
  listings: ListingBuffer;
  /** Counts. */
  stats: DetectionPageStats;
}

/** Options for {@linkcode DetectionPageParser}. */
export interface DetectionPageOptions {
  /** Receives warnings (a detection without a QID). */
  onWarning?: ((message: string) => void) | undefined;
  /** The scanner's first buffer size. @default {65536} */
  bufferSize?: number;
  /** A buffer to collect the page's hosts in (cleared first): reused from page to page. */
  listings?: ListingBuffer | undefined;
  /**
   * Called once, when the page's data begins (its first HOST, or its end): Qualys has done
   * its share of the page's work and streams it.
   */
  onData?: (() => void) | undefined;
  /** Keep each host's OS text and CPE (`OS`, `OS_CPE`), for SetOS. @default {false} */
  collectOs?: boolean | undefined;
  /**
   * The detection TYPEs to import (`vuln_types`: confirmed, potential, info); others are not
   * findings. A TYPE none of these names is imported. @default all
   */
  types?: readonly string[] | undefined;
}

const TAGS = [
  Tag.RESPONSE,
  Tag.DATETIME,
  Tag.HOST_LIST,
  Tag.WARNING,
  Tag.CODE,
  Tag.TEXT,
  Tag.URL,
  Tag.HOST,
  Tag.ID,
  Tag.IP,
  Tag.IPV6,
  Tag.DETECTION_LIST,
  Tag.DETECTION,
  Tag.QID,
  Tag.PORT,
  Tag.PROTOCOL,
  Tag.STATUS,
  Tag.TYPE,
  Tag.NETWORK_ID,
];
const OS_TAGS = [Tag.OS, Tag.OS_CPE];
const TYPE_BITS: Record<string, number> = { confirmed: 1, potential: 2, info: 4 };

/**
 * The push parser of one page: `push()` chunks of any size, then `end()`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const parser = new DetectionPageParser();
 * parser.push(new TextEncoder().encode(
 *   "<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><DATETIME>2026-03-02T06:00:00Z</DATETIME>" +
 *     "<HOST_LIST><HOST><ID>1</ID><IP>10.0.0.1</IP><DETECTION_LIST><DETECTION><QID>6</QID>" +
 *     "<TYPE>Info</TYPE><STATUS>Active</STATUS></DETECTION></DETECTION_LIST></HOST></HOST_LIST>" +
 *     "</RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>",
 * ));
 * const page = parser.end();
 * assert.equal(page.datetime, "2026-03-02T06:00:00Z");
 * assert.deepEqual([page.stats.hosts, page.stats.open, page.warning], [1, 1, undefined]);
 * ```
 */
export class DetectionPageParser implements ScanHandler, StreamParser<DetectionPage> {
  #scanner: XmlScanner;
  #options: { -readonly [K in keyof DetectionPageOptions]: DetectionPageOptions[K] };
  #kind: "" | "page" | "return" = "";
  #return = new ReturnCollector();
  #listings: ListingBuffer;
  #stats: DetectionPageStats = { hosts: 0, open: 0, fixed: 0, otherType: 0, noQid: 0, bytes: 0 };
  #types: number;
  #datetime = "";
  #warning: { code: string; text: string; url: string } | undefined;
  #warningDepth = 0;
  // the current HOST, DETECTION
  #inResponse = false;
  #inHostList = false;
  #hostDepth = 0;
  #listDepth = 0; // the host's DETECTION_LIST
  #ip: string | undefined;
  #ipv6: string | undefined;
  #os: string | undefined;
  #osCpe: string | undefined;
  #networkId: number | undefined;
  #hostId: number | undefined;
  #detDepth = 0;
  #qid = -1;
  #port = 0;
  #proto = 0;
  #fixed = false;
  #type = 0; // TYPE_BITS of the detection's TYPE, 0 when unknown

  /** Creates a parser for one page. */
  constructor(options: DetectionPageOptions = {}) {
    this.#options = options;
    this.#listings = options.listings ?? new ListingBuffer();
    this.#listings.clear();
    this.#types = options.types
      ? options.types.reduce((m, t) => m | (TYPE_BITS[t.toLowerCase()] ?? 0), 0)
      : 7;
    this.#scanner = new XmlScanner(this, { tags: [], bufferSize: options.bufferSize ?? 64 << 10 });
  }

  /** Feeds the next chunk. */
  push(chunk: Uint8Array): void {
    this.#scanner.push(chunk);
  }

  /** Nothing to let go of beyond memory: the page never reached the spool. */
  abort(): void {}

  /**
   * Ends the input and returns the page.
   *
   * @throws {ReportSyntaxError} When the page is not well-formed, truncated (`truncated`) or not
   * a Host List Detection answer.
   * @throws {QualysApiError} When the body is a Qualys error (SIMPLE_RETURN).
   * @throws {WrongAnswer} When its RESPONSE/DATETIME is missing or not a UTC time.
   */
  end(): DetectionPage {
    this.#scanner.end();
    this.#data();
    this.#stats.bytes = this.#scanner.offset;
    if (this.#kind === "return") throw this.#return.error();
    return {
      datetime: answerDateTime(this.#datetime),
      warning: this.#warning,
      listings: this.#listings,
      stats: this.#stats,
    };
  }

  /** @internal Scanner callback. */
  open(id: number, s: XmlScanner): void {
    const d = s.depth;
    if (d === 1) return this.#root(id, s);
    if (this.#kind === "return") return this.#return.open(id, s);
    // An element is read only where it belongs (RESPONSE/HOST_LIST/HOST/DETECTION_LIST/DETECTION
    // and their direct children): the same names deeper down (a tag's or a CVE's ID, a source's
    // TYPE, a REQUEST's DATETIME) and every element not read, at any depth, are skipped.
    if (this.#hostDepth !== 0) {
      if (this.#detDepth !== 0) {
        if (
          d === this.#detDepth + 1 &&
          (id === Tag.QID || id === Tag.PORT || id === Tag.PROTOCOL || id === Tag.STATUS ||
            id === Tag.TYPE)
        ) s.collectText();
      } else if (this.#listDepth !== 0) {
        if (id === Tag.DETECTION && d === this.#listDepth + 1) {
          this.#detDepth = d;
          this.#qid = -1;
          this.#port = 0;
          this.#proto = 0;
          this.#fixed = false;
          this.#type = 0;
        }
      } else if (d === this.#hostDepth + 1) {
        if (id === Tag.DETECTION_LIST) this.#listDepth = d;
        else if (
          id === Tag.IP || id === Tag.IPV6 || id === Tag.NETWORK_ID || id === Tag.OS ||
          id === Tag.OS_CPE || id === Tag.ID
        ) s.collectText();
      }
      return;
    }
    if (d === 2) {
      if (id === Tag.RESPONSE) this.#inResponse = true;
      return;
    }
    if (!this.#inResponse) return;
    if (d === 3) {
      if (id === Tag.DATETIME) s.collectText();
      else if (id === Tag.HOST_LIST) this.#inHostList = true;
      else if (id === Tag.WARNING) {
        this.#warningDepth = d;
        this.#warning = { code: "", text: "", url: "" };
      }
    } else if (id === Tag.HOST && d === 4 && this.#inHostList) {
      this.#data();
      this.#hostDepth = d;
      this.#ip =
        this.#ipv6 =
        this.#os =
        this.#osCpe =
          undefined;
      this.#networkId = this.#hostId = undefined;
      this.#listings.start();
      this.#stats.hosts++;
    } else if (this.#warningDepth && d === this.#warningDepth + 1) s.collectText();
  }

  /** @internal Scanner callback. */
  close(id: number, s: XmlScanner): void {
    const d = s.depth;
    if (this.#kind === "return") return this.#return.close(id, s);
    if (this.#hostDepth !== 0) {
      if (this.#detDepth !== 0) {
        if (d === this.#detDepth + 1) {
          if (id === Tag.QID) this.#qid = s.textInt();
          else if (id === Tag.PORT) this.#port = s.textInt();
          else if (id === Tag.PROTOCOL) this.#proto = s.textIs("tcp") ? 1 : s.textIs("udp") ? 2 : 0;
          else if (id === Tag.STATUS) this.#fixed = s.textIs("fixed");
          else if (id === Tag.TYPE) {
            this.#type = s.textIs("confirmed")
              ? 1
              : s.textIs("potential")
              ? 2
              : s.textIs("info")
              ? 4
              : 0;
          }
        } else if (d === this.#detDepth) this.#endDetection();
      } else if (this.#listDepth !== 0) {
        if (d === this.#listDepth) this.#listDepth = 0;
      } else if (d === this.#hostDepth + 1) {
        if (id === Tag.IP) this.#ip = s.text().trim();
        else if (id === Tag.IPV6) this.#ipv6 = s.text().trim();
        else if (id === Tag.NETWORK_ID) {
          const n = s.textInt();
          this.#networkId = n >= 0 && n <= 0xfffffffe ? n : undefined;
        } else if (id === Tag.ID) {
          const n = s.textInt();
          this.#hostId = n > 0 && n <= 0xffffffff ? n : undefined;
        } else if (id === Tag.OS) this.#os = s.text().trim();
        else if (id === Tag.OS_CPE) this.#osCpe = s.text().trim();
      } else if (d === this.#hostDepth) {
        this.#hostDepth = 0;
        // An IPv6-only host is sent with its IPv6 address; a dual-stack one with its IPv4.
        this.#listings.end(this.#ip || this.#ipv6 || undefined, {
          os: this.#os || undefined,
          osCpe: this.#osCpe || undefined,
          networkId: this.#networkId,
          hostId: this.#hostId,
        });
      }
      return;
    }
    if (d === 2) {
      if (id === Tag.RESPONSE) this.#inResponse = false;
      return;
    }
    if (!this.#inResponse) return;
    if (d === 3) {
      if (id === Tag.DATETIME) this.#datetime = s.text().trim();
      else if (id === Tag.HOST_LIST) this.#inHostList = false;
      else if (id === Tag.WARNING) this.#warningDepth = 0;
    } else if (this.#warningDepth !== 0 && d === this.#warningDepth + 1) {
      const w = this.#warning!;
      if (id === Tag.CODE) w.code = s.text().trim();
      else if (id === Tag.TEXT) w.text = s.text().trim();
      else if (id === Tag.URL) w.url = s.text().trim();
    }
  }

  #root(id: number, s: XmlScanner): void {
    if (id === Tag.HOST_LIST_VM_DETECTION_OUTPUT) {
      this.#kind = "page";
      s.reportTags(this.#options.collectOs ? [...TAGS, ...OS_TAGS] : TAGS);
    } else if (id === Tag.SIMPLE_RETURN || id === Tag.GENERIC_RETURN) {
      this.#kind = "return";
      this.#return.start(s);
    } else {
      throw s.errorHere(
        "Not a Host List Detection answer: the root element is not HOST_LIST_VM_DETECTION_OUTPUT",
      );
    }
  }

  #data(): void {
    const onData = this.#options.onData;
    if (!onData) return;
    this.#options.onData = undefined;
    onData();
  }

  #endDetection(): void {
    this.#detDepth = 0;
    if (this.#fixed) {
      this.#stats.fixed++;
      return;
    }
    if (this.#type !== 0 && (this.#type & this.#types) === 0) {
      this.#stats.otherType++;
      return;
    }
    const qid = this.#qid;
    if (qid < 0 || qid > 0xffffffff) {
      this.#stats.noQid++;
      if (this.#stats.noQid <= 5) {
        this.#options.onWarning?.("A detection without a valid QID is skipped");
      }
      return;
    }
    let port = this.#port, proto = this.#proto;
    if (proto === 0 || port < 1 || port > 65535) port = proto = 0;
    this.#stats.open++;
    this.#listings.add(qid, port, proto);
  }
}
