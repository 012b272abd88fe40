/**
 * The Qualys API endpoints the connector calls, and the version of each: the one table every
 * call builds its path from (docs/operations.md: "Qualys API versions"; docs/qualys_api.md section 3.5).
 *
 * | `api_versions` name | endpoint            | path (default version)                    |
 * | ------------------- | ------------------- | ----------------------------------------- |
 * | `detections`        | Host List Detection | `/api/5.0/fo/asset/host/vm/detection/`    |
 * | `hosts`             | Host List           | `/api/5.0/fo/asset/host/`                 |
 * | `knowledge_base`    | KnowledgeBase       | `/api/4.0/fo/knowledge_base/vuln/`        |
 * | `reports`           | Report              | `/api/2.0/fo/report/`                     |
 *
 * Qualys ended support for Host List Detection and Host List 2.0-4.0 in December 2025 (end of
 * life June 2026) and for KnowledgeBase 2.0 and 3.0 in December 2025; the report API has no
 * announced end (../shared/reference/qualys_api_versions.md). Versions run side by side for about
 * a year, so the next move is the YAML line `api_versions: detections=6.0`, not a new binary.
 *
 * This module is the only one of lib/ that spells a versioned path.
 *
 * @module
 */

/** The names of the endpoints, as `api_versions` writes them. */
export const ENDPOINT_NAMES = ["detections", "hosts", "knowledge_base", "reports"] as const;

/** An endpoint the connector calls. */
export type Endpoint = (typeof ENDPOINT_NAMES)[number];

/** What the table holds for one endpoint. */
export interface EndpointInfo {
  /** Its name in messages. */
  readonly title: string;
  /** The path after `/api/<version>/fo/`. */
  readonly resource: string;
  /** The version called unless `api_versions` says otherwise. */
  readonly version: string;
  /** Versions Qualys has ended (end of support or of life), with when. */
  readonly ended: Readonly<Record<string, string>>;
}

/** The table. */
export const ENDPOINTS: Readonly<Record<Endpoint, EndpointInfo>> = {
  detections: {
    title: "Host List Detection",
    resource: "asset/host/vm/detection/",
    version: "5.0",
    ended: {
      "2.0": "end of life June 2026",
      "3.0": "end of life June 2026",
      "4.0": "end of life June 2026",
    },
  },
  hosts: {
    title: "Host List",
    resource: "asset/host/",
    version: "5.0",
    ended: {
      "2.0": "end of life June 2026",
      "3.0": "end of life June 2026",
      "4.0": "end of life June 2026",
    },
  },
  knowledge_base: {
    title: "KnowledgeBase",
    resource: "knowledge_base/vuln/",
    version: "4.0",
    ended: { "2.0": "end of support December 2025", "3.0": "end of support December 2025" },
  },
  reports: { title: "Report", resource: "report/", version: "2.0", ended: {} },
};

/** The version of every endpoint. */
export type ApiVersions = Readonly<Record<Endpoint, string>>;

/** The versions called when `api_versions` names none. */
export const DEFAULT_API_VERSIONS: ApiVersions = Object.freeze(
  Object.fromEntries(ENDPOINT_NAMES.map((e) => [e, ENDPOINTS[e].version])) as Record<
    Endpoint,
    string
  >,
);

/**
 * The path of `endpoint` at the version `versions` gives it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(endpointPath("knowledge_base"), "/api/4.0/fo/knowledge_base/vuln/");
 * assert.equal(
 *   endpointPath("detections", { ...DEFAULT_API_VERSIONS, detections: "6.0" }),
 *   "/api/6.0/fo/asset/host/vm/detection/",
 * );
 * ```
 */
export function endpointPath(endpoint: Endpoint, versions: ApiVersions = DEFAULT_API_VERSIONS) {
  return `/api/${versions[endpoint]}/fo/${ENDPOINTS[endpoint].resource}`;
}

/**
 * The endpoint and version as messages name them: "Host List Detection API 5.0".
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(endpointTitle("reports"), "Report API 2.0");
 * ```
 */
export function endpointTitle(endpoint: Endpoint, versions: ApiVersions = DEFAULT_API_VERSIONS) {
  return `${ENDPOINTS[endpoint].title} API ${versions[endpoint]}`;
}

/**
 * The value of `api_versions`: comma-separated `name=version` pairs (`detections=5.0,
 * knowledge_base=4.0`), each name once, a version digits.digits. Returns the table with them.
 *
 * @throws {RangeError} Saying what is wrong, for the caller to name the key.
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const v = parseApiVersions("detections=6.0, knowledge_base = 4.0");
 * assert.equal(v.detections, "6.0");
 * assert.equal(v.reports, "2.0");
 * assert.throws(() => parseApiVersions("detection=5.0"), RangeError);
 * ```
 */
export function parseApiVersions(text: string): ApiVersions {
  const out: Record<Endpoint, string> = { ...DEFAULT_API_VERSIONS };
  const seen = new Set<string>();
  const example = "for example detections=5.0, knowledge_base=4.0";
  if (text.trim() === "") {
    throw new RangeError(`must list name=version pairs, ${example}`);
  }
  for (const part of text.split(",")) {
    const m = /^\s*([A-Za-z_]*)\s*=\s*(\S*)\s*$/.exec(part);
    if (!m) {
      throw new RangeError(
        `must list name=version pairs separated by commas, ${example}, but "${part.trim()}" is ` +
          "not one",
      );
    }
    const name = m[1]!.toLowerCase(), version = m[2]!;
    if (!(ENDPOINT_NAMES as readonly string[]).includes(name)) {
      throw new RangeError(
        `names "${m[1]}", which is not an endpoint: the names are ${ENDPOINT_NAMES.join(", ")}`,
      );
    }
    if (!/^\d{1,3}\.\d{1,3}$/.test(version)) {
      throw new RangeError(
        `gives ${name} the version "${version}": a version is digits.digits, for example 5.0`,
      );
    }
    if (seen.has(name)) throw new RangeError(`names ${name} twice: give each endpoint once`);
    seen.add(name);
    out[name as Endpoint] = version;
  }
  return Object.freeze(out);
}
