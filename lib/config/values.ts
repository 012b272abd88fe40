/**
 * Parsers for the values of configuration keys and options that take more than a word: yes/no,
 * number ranges (`3-5`, `3,4,5`), lists, certificate fingerprints, and the names the Defense
 * Center builds into SQL. Each returns the value, or throws a `RangeError` whose message says
 * what is expected (the caller names the key or option).
 *
 * @module
 */

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * `y`, `yes`, `n` or `no`, in any case.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseYesNo("Yes"), true);
 * assert.throws(() => parseYesNo("true"), RangeError);
 * ```
 */
export function parseYesNo(text: string): boolean {
  const word = text.trim().toLowerCase();
  if (!["y", "yes", "n", "no"].includes(word)) throw new RangeError("must be y, yes, n or no");
  return word.startsWith("y");
}

/**
 * `refresh_days`: a whole number of days from 0 (every host every run) to 3650.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseRefreshDays(" 7 "), 7);
 * assert.equal(parseRefreshDays("0"), 0);
 * assert.throws(() => parseRefreshDays("1.5"), RangeError);
 * ```
 */
export function parseRefreshDays(text: string): number {
  const t = text.trim();
  if (!/^\d{1,4}$/.test(t) || Number(t) > 3650) {
    throw new RangeError(
      "must be a whole number of days from 0 to 3650 (0 sends every host every run)",
    );
  }
  return Number(t);
}

/**
 * Severities 1-5 as `3-5` or `3,4,5` (or a mix: `1,3-5`); returns them sorted, once each.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseSeverities("3-5"), [3, 4, 5]);
 * assert.deepEqual(parseSeverities("5, 3,4"), [3, 4, 5]);
 * ```
 */
export function parseSeverities(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^\s*([1-5])\s*(?:-\s*([1-5])\s*)?$/.exec(part);
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) {
      throw new RangeError(
        `must be severities 1 to 5 as a range or a list, for example 3-5 or 3,4,5`,
      );
    }
    for (let s = Number(m[1]); s <= Number(m[2] ?? m[1]); s++) out.add(s);
  }
  return [...out].sort((a, b) => a - b);
}

/** The detection types Qualys can return. */
export const VULN_TYPES = ["confirmed", "potential", "info"] as const;

/** A detection type. */
export type VulnType = (typeof VULN_TYPES)[number];

/**
 * A comma-separated list of `confirmed`, `potential` and `info` (any case).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseVulnTypes("Confirmed, potential"), ["confirmed", "potential"]);
 * ```
 */
export function parseVulnTypes(text: string): VulnType[] {
  const out = new Set<VulnType>();
  for (const part of text.split(",")) {
    const word = part.trim().toLowerCase();
    if (!(VULN_TYPES as readonly string[]).includes(word)) {
      throw new RangeError(
        `must list confirmed, potential and/or info, separated by commas, but "${part.trim()}" is none of them`,
      );
    }
    out.add(word as VulnType);
  }
  return VULN_TYPES.filter((t) => out.has(t));
}

/**
 * A comma-separated list of numeric IDs (asset group IDs).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseIdList("1234, 5678"), ["1234", "5678"]);
 * ```
 */
export function parseIdList(text: string): string[] {
  const ids = text.split(",").map((s) => s.trim());
  const bad = ids.find((id) => !/^\d{1,15}$/.test(id));
  if (bad !== undefined) {
    throw new RangeError(`must be numeric IDs separated by commas, but "${bad}" is not one`);
  }
  return [...new Set(ids)];
}

/**
 * A SHA-256 certificate fingerprint as `sha256:<64 hex digits>`; colons between the bytes (as
 * `openssl x509 -fingerprint -sha256` prints them) are allowed. Returns the lower-case hex.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseFingerprint("sha256:" + "AB:".repeat(31) + "AB"), "ab".repeat(32));
 * ```
 */
export function parseFingerprint(text: string): string {
  const m = /^\s*sha256:((?:[0-9a-f]{2}:?){31}[0-9a-f]{2})\s*$/i.exec(text);
  const hex = m?.[1]?.replaceAll(":", "").toLowerCase();
  if (!hex || hex.length !== 64) {
    throw new RangeError(
      "must be sha256: followed by the certificate's 64 hex digits (the connector prints them " +
        "when it cannot verify the Defense Center's certificate)",
    );
  }
  return hex;
}

/**
 * A scanner or source name as the Defense Center's host input module needs it: it builds the
 * name into SQL, so no quote characters; a comma would split the command; an all-digit name is
 * taken as the ID of an existing source; an empty one leaves the type undefined.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseDcName("QualysGuard"), "QualysGuard");
 * assert.throws(() => parseDcName("O'Brien scans"), RangeError);
 * assert.throws(() => parseDcName("\uff11\uff12\uff13"), RangeError); // sent as 123: a source ID
 * ```
 */
export function parseDcName(text: string): string {
  const name = text.trim();
  if (name === "") throw new RangeError("must not be empty");
  // Checked as it is sent: the commands fold other characters to ASCII (NFKD: "１２３" is sent
  // as 123, "＇" as ') or drop them ("€").
  const folded = name.normalize("NFKD");
  const sent = folded.replace(/[^\x20-\x7e]/g, "").trim();
  if (/["'`]/.test(folded)) {
    throw new RangeError("must not contain quote characters (the Defense Center cannot take them)");
  }
  if (folded.includes(",")) throw new RangeError("must not contain commas");
  if (sent === "") {
    throw new RangeError(
      "must hold ASCII letters or digits: the Defense Center takes ASCII only, and the other " +
        "characters are dropped",
    );
  }
  if (/^\d+$/.test(sent)) {
    throw new RangeError(
      "must not be all digits (the Defense Center would take it as the ID of an existing source)",
    );
  }
  if (hasControl(name)) throw new RangeError("must not contain control characters");
  return name;
}

/**
 * The longest `domain` taken, in characters (ASCII: bytes). `SetDomain,<domain>` heads every
 * message to the Defense Center, with `SetSource` and `SetSourceType`: at most 1,000 leaves
 * about 3,000 bytes of a 4,000-byte message (the host input SDK's default size, and the
 * connector's longest line) for the commands. A domain is a UUID (36 characters) or a path of
 * at most three names (Global and two levels below it), far shorter.
 */
export const MAX_DOMAIN_LENGTH = 1000;

/**
 * A Defense Center domain: a UUID or a path such as `Global \ Branch A`, written into
 * `SetDomain,<domain>`; so no quote characters, commas or control characters, ASCII only (the
 * host input module cannot parse other bytes, and drops such a line without a word: the results
 * would land in the certificate's own domain), at most {@linkcode MAX_DOMAIN_LENGTH} characters.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseDomain(" Global \\ Branch A "), "Global \\ Branch A");
 * assert.throws(() => parseDomain("Global \\ Z\u00fcrich"), RangeError);
 * ```
 */
export function parseDomain(text: string): string {
  const domain = text.trim();
  if (domain === "") throw new RangeError("must not be empty");
  if (/["'`,]/.test(domain) || hasControl(domain)) {
    throw new RangeError(
      "must be a domain UUID or a path such as Global \\ Branch A, without quotes or commas",
    );
  }
  const other = /[^\x20-\x7e]/u.exec(domain)?.[0];
  if (other !== undefined) {
    const code = other.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    throw new RangeError(
      `must be in ASCII only (letters, digits, spaces, punctuation other than quotes and ` +
        `commas), which is all the Defense Center's host input takes: "${other}" (U+${code}) ` +
        "is not; name the domain by its UUID instead (the FMC's REST API lists them: " +
        "/api/fmc_platform/v1/info/domain)",
    );
  }
  if (domain.length > MAX_DOMAIN_LENGTH) {
    throw new RangeError(
      `must be at most ${MAX_DOMAIN_LENGTH} characters (${domain.length}): SetDomain heads ` +
        "every message to the Defense Center; name the domain by its UUID instead",
    );
  }
  return domain;
}
