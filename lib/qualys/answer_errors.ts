/**
 * Messages for answers that are not a Qualys answer (an empty body, a proxy's or a firewall's
 * page: what its HTTP status likely means) and for a version Qualys refuses (which
 * `api_versions` entry to change). What a Qualys answer's CODE and TEXT say is
 * `simple_return.ts`'s.
 *
 * @module
 */

/** HTTP statuses worth another try: the server or a device on the way had a passing failure. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The one-line message of a non-2xx answer whose body is not a Qualys answer (an empty body, an
 * HTML page of a proxy, a firewall or a load balancer): the status, the call, what the body was
 * (never the body itself) and the likely cause.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const m = describeHttpStatus(403, "action=list on the Host List",
 *   { bytes: 512, type: "text/html" });
 * assert.match(m, /HTTP 403 .* a proxy or a web application firewall/);
 * ```
 */
export function describeHttpStatus(
  status: number,
  call: string,
  body: { bytes: number; type: string },
): string {
  const what = body.bytes === 0
    ? "an empty body"
    : `a body that is not a Qualys answer (${body.bytes} bytes of ${body.type})`;
  const head = `Qualys answered HTTP ${status} with ${what} (${call})`;
  let cause: string;
  if (status === 401) {
    cause = "the credentials were refused: check user_id and password in the plugin YAML (and " +
      "that url is your platform's API server); an endpoint that wants a token from the Qualys " +
      "API gateway answers so too (gateway_url)";
  } else if (status === 403) {
    cause = "a proxy or a web application firewall refused the call, or the Qualys user lacks " +
      "the API permission for it: check the proxy's and the firewall's logs, and the user's " +
      "role in Qualys (API access, and the module the call needs)";
  } else if (status === 407) {
    cause = "the proxy wants credentials: check proxy_username and proxy_password";
  } else if (isRetryableStatus(status)) {
    cause = "Qualys, or a proxy or load balancer on the way, had a failure: try again later";
  } else {
    cause = "something other than the Qualys API answered: check that url is the Qualys API " +
      "server of your platform, and proxy";
  }
  return `${head}: ${cause}`;
}

/**
 * The one-line message of a version Qualys refuses (HTTP 404 or 410, or a SIMPLE_RETURN saying it
 * is not supported): the endpoint, the version asked, and the `api_versions` entry to change.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const m = describeRefusedVersion({ endpoint: "detections", title: "Host List Detection API 2.0",
 *   version: "2.0", current: "5.0", status: 404, label: "action=list on the Host List" });
 * assert.match(m, /set api_versions: detections=5\.0/);
 * ```
 */
export function describeRefusedVersion(refused: {
  endpoint: string;
  title: string;
  version: string;
  current: string;
  status: number;
  text?: string | undefined;
  label: string;
  /** The answer was not a Qualys one (a web server's 404 page). */
  notQualys?: boolean | undefined;
}): string {
  const { endpoint, current } = refused;
  const said = refused.text ? `: "${refused.text.replace(/\s+/g, " ").slice(0, 200)}"` : "";
  // An account without API access gets 404 too (JupiterOne-Archives/graph-qualys
  // docs/development.md): likelier than a retired version when the one asked is today's.
  const fix = refused.version !== current
    ? `set api_versions: ${endpoint}=${current} in the plugin YAML (or remove that entry)`
    : "or the user has no API access (ask Qualys to enable it); if Qualys has moved on, set " +
      `api_versions: ${endpoint}=<the version Qualys's API release notes name> in the plugin YAML`;
  const url = refused.notQualys
    ? " (the answer was not a Qualys one: check too that url is your platform's API server)"
    : "";
  return `Qualys does not serve the ${refused.title} (HTTP ${refused.status} to ` +
    `${refused.label}${said}): that version is retired or unknown; ${fix}${url}`;
}
