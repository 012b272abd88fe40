/**
 * The plugin configuration, `InputPlugins/QualysGuard.yaml` (README: Configuration). Read as YAML
 * with every scalar kept as a string (as Perl's YAML::XS did; docs/platform.md, "YAML"), then each
 * key converted and validated.
 * Errors name the file, line and column and say what to change; secret values never appear in
 * a message.
 *
 * @module
 */

import type * as Yaml from "yaml";
import { ConfigError } from "../errors.ts";
import { IpRangeSet } from "./ip_ranges.ts";
import { nearest } from "../util/text.ts";
import {
  type ApiVersions,
  DEFAULT_API_VERSIONS,
  ENDPOINT_NAMES,
  ENDPOINTS,
  parseApiVersions,
} from "../qualys/endpoints.ts";
import {
  parseDcName,
  parseDomain,
  parseFingerprint,
  parseIdList,
  parseSeverities,
  parseVulnTypes,
  parseYesNo,
  type VulnType,
} from "./values.ts";

/** The validated settings. */
export interface QualysConfig {
  /** The file the settings came from ("(defaults)" when none was read). */
  readonly file: string;
  /** Qualys username. */
  readonly userId?: string | undefined;
  /** Qualys password. */
  readonly password?: string | undefined;
  /** Report template ID (digits). */
  readonly templateId?: string | undefined;
  /** Qualys API base URL (https). */
  readonly url: string;
  /** Emit AddHost before each host's results. */
  readonly addHost: boolean;
  /** Only hosts inside these ranges are processed; undefined means all. */
  readonly ipRanges?: IpRangeSet | undefined;
  /** Proxy URL (http or https). */
  readonly proxy?: string | undefined;
  /** Proxy Basic-auth user. */
  readonly proxyUsername?: string | undefined;
  /** Proxy Basic-auth password. */
  readonly proxyPassword?: string | undefined;
  /** Extra CA certificates (PEM file) for the Qualys API and the proxy. */
  readonly caFile?: string | undefined;
  /** The AddScanResult scanner id. */
  readonly scannerName: string;
  /** The SetSource name. */
  readonly sourceName: string;
  /** Longest wait for a launched report to finish, in minutes. */
  readonly maxReportWaitMinutes: number;
  /** First interval between report status polls, in seconds (later ones grow to 60 s). */
  readonly pollIntervalSeconds: number;
  /** Where the findings come from: a report template, or host detections (VMDR). */
  readonly source: "report" | "detections";
  /** Detections only: the severities to import (1-5); undefined means all. */
  readonly severities?: readonly number[] | undefined;
  /** Detections only: the detection types to import. */
  readonly vulnTypes: readonly VulnType[];
  /** Detections only: only hosts in these asset groups; undefined means all. */
  readonly assetGroupIds?: readonly string[] | undefined;
  /** Detections only: the directory of the sync state and KB cache, as written (relative: to the YAML's directory). */
  readonly stateDir?: string | undefined;
  /** The Defense Center domain (UUID or path) for `SetDomain`; undefined on a single-domain FMC. */
  readonly domain?: string | undefined;
  /** The SHA-256 (lower-case hex) of the one Defense Center certificate to trust. */
  readonly dcFingerprint?: string | undefined;
  /** Send each host's operating system (`SetOS`). */
  readonly setOs: boolean;
  /** Clear, on the Defense Center, hosts the source lists without an open finding. */
  readonly clearCleanHosts: boolean;
  /** The version of each Qualys API endpoint (`api_versions` over the defaults). */
  readonly apiVersions: ApiVersions;
  /** The Qualys API gateway (`gateway_url`); undefined: the platform's, when `url` names one. */
  readonly gatewayUrl?: string | undefined;
}

/** What a config must contain, which depends on how the connector runs. */
export interface ConfigRequirements {
  /** `user_id` and `password` are required (not with `-report`). @default {true} */
  credentials?: boolean;
  /** `template_id` is required (not with `-report`, `-multiinfo` or `source: detections`). @default {true} */
  templateId?: boolean;
  /** Receives warnings: unknown keys, keys that do not apply, a file others can read. */
  onWarning?: ((message: string) => void) | undefined;
}

/** The default Qualys API URL. */
export const DEFAULT_URL = "https://qualysapi.qualys.com";

const KEYS = [
  "user_id",
  "password",
  "template_id",
  "url",
  "add_host",
  "ip_ranges",
  "proxy",
  "proxy_username",
  "proxy_password",
  "ca_file",
  "scanner_name",
  "source_name",
  "max_report_wait",
  "poll_interval",
  "source",
  "severities",
  "vuln_types",
  "asset_group_ids",
  "state_dir",
  "domain",
  "dc_fingerprint",
  "set_os",
  "clear_clean_hosts",
  "api_versions",
  "gateway_url",
] as const;
const DETECTION_KEYS: readonly Key[] = [
  "severities",
  "vuln_types",
  "asset_group_ids",
  "state_dir",
];
type Key = (typeof KEYS)[number];
const SECRET_KEYS = new Set<string>(["password", "proxy_password", "user_id", "proxy_username"]);
const PASSWORD_KEYS = new Set<string>(["password", "proxy_password"]);
/**
 * The YAML library's error codes (its `ErrorCode`) whose fix is to quote the value: a value that
 * starts with a character YAML reserves (`@`, a backquote, `%`: BAD_SCALAR_START), an escape double
 * quotes do not allow (BAD_DQ_ESCAPE), a second `&` or `!` (MULTIPLE_ANCHORS, MULTIPLE_TAGS).
 * MISSING_CHAR (a closing quote is missing) also means a key without its colon, so it counts only
 * when the error lies in a key's value.
 */
const QUOTE_FIXES = new Set<Yaml.ErrorCode>([
  "BAD_SCALAR_START",
  "BAD_DQ_ESCAPE",
  "MULTIPLE_ANCHORS",
  "MULTIPLE_TAGS",
]);

/**
 * How YAML syntax silently changed an unquoted value (so a password would be wrong without a
 * word): a comment, an anchor, a tag or a block scalar. Undefined when the value is as written.
 * Says what happened, never what the value is.
 */
function yamlRewrites(
  node: { type?: string; anchor?: string; tag?: string; range?: readonly number[] | null },
  text: string,
): string | undefined {
  if (node.anchor !== undefined) return "starts with &, which YAML reads as an anchor name";
  if (node.tag !== undefined) return "starts with !, which YAML reads as a tag";
  if (node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED") {
    return "starts with | or >, which YAML reads as a block of the following lines";
  }
  const end = node.range?.[1];
  if (node.type === "PLAIN" && end !== undefined) {
    const eol = text.indexOf("\n", end);
    if (/^[ \t]+#/.test(text.slice(end, eol < 0 ? undefined : eol))) {
      return "has a # after a space, which YAML reads as the start of a comment (dropped)";
    }
  }
  return undefined;
}

/** What the plugin YAML says about the commands written (the encoder's options). */
export type CommandOptions = Pick<
  QualysConfig,
  "addHost" | "clearCleanHosts" | "setOs" | "scannerName" | "sourceName" | "domain"
>;

/**
 * The encoder's options from the plugin YAML, for every source.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(commandOptions(defaultConfig()).scannerName, "QualysGuard");
 * ```
 */
export function commandOptions(config: QualysConfig): CommandOptions {
  const { addHost, clearCleanHosts, setOs, scannerName, sourceName, domain } = config;
  return { addHost, clearCleanHosts, setOs, scannerName, sourceName, domain };
}

/** The settings used when there is no config file (`-report` without `-plugininfo`). */
export function defaultConfig(): QualysConfig {
  return {
    file: "(defaults)",
    url: DEFAULT_URL,
    addHost: false,
    scannerName: "QualysGuard",
    sourceName: "QualysGuard Scan Report",
    maxReportWaitMinutes: 180,
    pollIntervalSeconds: 5,
    source: "report",
    vulnTypes: ["confirmed", "potential"],
    setOs: false,
    clearCleanHosts: true,
    apiVersions: DEFAULT_API_VERSIONS,
  };
}

/**
 * Parses and validates config text.
 *
 * @throws {ConfigError} On bad YAML, a missing required key, or a bad value.
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const cfg = await parseConfig("user_id: dirk_g\npassword: 'd0ntp@n1c'\ntemplate_id: 424242\nadd_host: y\n",
 *   "QualysGuard.yaml");
 * assert.equal(cfg.templateId, "424242");
 * assert.equal(cfg.addHost, true);
 * ```
 */
export async function parseConfig(
  text: string,
  file: string,
  requirements: ConfigRequirements = {},
): Promise<QualysConfig> {
  // The YAML library is loaded on first use: a run without a config file does not pay for it.
  const { isAlias, isMap, isScalar, LineCounter, parseDocument }: typeof Yaml = await import(
    "yaml"
  );
  const { credentials = true, templateId: needTemplate = true, onWarning } = requirements;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { schema: "failsafe", lineCounter, prettyErrors: false });
  const at = (offset: number) => lineCounter.linePos(offset);
  const lineKey = (line: number) => {
    const src = text.split("\n")[line - 1] ?? "";
    return /^\s*([A-Za-z_]+)\s*:/.exec(src)?.[1] ?? "";
  };
  // The key whose value holds `offset`: a quoted value may run over several lines (an unclosed
  // quote runs to the end of the file), so the error's own line may name no key, or another.
  // Its position is the value's start, where the fix goes.
  const keyAt = (offset: number): { key: string; start: number } | undefined => {
    if (!isMap(doc.contents)) return undefined;
    for (const pair of doc.contents.items) {
      const range = (pair.value as { range?: readonly number[] | null } | null)?.range;
      if (
        isScalar(pair.key) && range && range[0]! <= offset &&
        (offset < range[2]! || offset === range[1])
      ) {
        return { key: String(pair.key.value).trim(), start: range[0]! };
      }
    }
    return undefined;
  };
  const firstError = doc.errors[0];
  if (firstError) {
    const inValue = keyAt(firstError.pos[0]);
    const onLine = lineKey(at(firstError.pos[0]).line);
    const key = inValue?.key || onLine;
    const pos = at(inValue && !onLine ? inValue.start : firstError.pos[0]);
    // The YAML library's own message may quote the line (and so a password): never use it whole,
    // and on the line of a secret not at all ("Invalid escape sequence \q" is part of it).
    const what = SECRET_KEYS.has(key)
      ? "its value is not valid YAML as written"
      : firstError.message.split(/ at line | \(|:\n/)[0] ?? firstError.code;
    const hint = firstError.code === "TAB_AS_INDENT"
      ? ": indent with spaces, not tabs"
      : firstError.code === "DUPLICATE_KEY"
      ? `: each key may appear only once ("${key}" is repeated)`
      : SECRET_KEYS.has(key) || QUOTE_FIXES.has(firstError.code) ||
          (firstError.code === "MISSING_CHAR" && inValue !== undefined)
      ? `: put the value of "${key || "the key"}" in single quotes, for example ${
        key || "password"
      }: 'p@ss,w0rd!' (a single quote inside is written twice: 'it''s')`
      : ": each line must be `key: value`";
    throw new ConfigError(`Cannot read the YAML (${what})${hint}`, {
      file,
      line: pos.line,
      column: pos.col,
    });
  }
  const values = new Map<Key, { value: string; line: number; col: number }>();
  const contents = doc.contents;
  if (contents !== null && contents !== undefined) {
    if (!isMap(contents)) {
      const pos = at(contents.range?.[0] ?? 0);
      throw new ConfigError(
        "The file must be a list of `key: value` lines (see the sample in the README)",
        { file, line: pos.line, column: pos.col },
      );
    }
    for (const pair of contents.items) {
      const keyNode = pair.key;
      const keyPos = at(isScalar(keyNode) ? keyNode.range?.[0] ?? 0 : 0);
      const key = isScalar(keyNode) ? String(keyNode.value).trim() : "";
      if (!(KEYS as readonly string[]).includes(key)) {
        const near = nearest(key, KEYS);
        onWarning?.(
          `${file}:${keyPos.line}:${keyPos.col}: Unknown key "${key}" is ignored` +
            (near.distance <= Math.min(3, Math.ceil(key.length / 3))
              ? `: did you mean "${near.name}"?`
              : ""),
        );
        continue;
      }
      const valueNode = pair.value;
      const changed = PASSWORD_KEYS.has(key) && isScalar(valueNode)
        ? yamlRewrites(valueNode, text)
        : undefined;
      if (changed) {
        // Warned, not refused: the original (YAML::XS) read the value the same way, so a file
        // that works, say with a comment after the password, keeps working.
        const col = /^\s*[A-Za-z_]+\s*:\s*/.exec(text.split("\n")[keyPos.line - 1] ?? "")?.[0];
        onWarning?.(
          `${file}:${keyPos.line}:${(col?.length ?? 0) + 1}: the value of "${key}" ${changed}: ` +
            "if that is part of the password, put the whole value in single quotes, for example " +
            `${key}: 'p@ss #1&!*' (a single quote inside is written twice: 'it''s')`,
        );
      }
      if (valueNode !== null && !isScalar(valueNode)) {
        const pos = at(offsetOf(valueNode) || offsetOf(keyNode));
        throw new ConfigError(
          (isAlias(valueNode)
            ? `"${key}" starts with *, which YAML reads as a reference to an &anchor: put the ` +
              "value in single quotes"
            : `"${key}" must be a single value on its line, not a list or a nested map`) +
            (key === "ip_ranges" ? ": write the ranges comma-separated on one line" : ""),
          { file, line: pos.line, column: pos.col },
        );
      }
      const pos = valueNode && isScalar(valueNode) && valueNode.range
        ? at(valueNode.range[0])
        : keyPos;
      const value = valueNode && isScalar(valueNode) ? String(valueNode.value) : "";
      values.set(key as Key, { value, line: pos.line, col: pos.col });
    }
  }
  const fail = (key: Key, message: string): never => {
    const v = values.get(key);
    throw new ConfigError(`"${key}" ${message}`, { file, line: v?.line, column: v?.col });
  };
  const str = (key: Key): string | undefined => {
    const v = values.get(key)?.value;
    if (v === undefined) return undefined;
    const t = SECRET_KEYS.has(key) ? v : v.trim();
    return t === "" || t === "~" ? undefined : t;
  };
  const required = (key: Key, why: string): string => {
    const v = str(key);
    if (v === undefined) {
      throw new ConfigError(
        `"${key}" is missing or empty: add a line \`${key}: ...\` (${why})`,
        { file, line: values.get(key)?.line, column: values.get(key)?.col },
      );
    }
    return v;
  };

  // A value through one of the parsers of values.ts, failing with the key's position.
  const parsed = <T>(key: Key, parse: (text: string) => T): T | undefined => {
    const v = values.get(key)?.value;
    if (v === undefined) return undefined;
    try {
      return parse(v);
    } catch (error) {
      if (error instanceof RangeError) fail(key, error.message);
      throw error;
    }
  };

  // A new key left out takes its default; written with an empty value (`vuln_types:`, `''`, `~`)
  // it is a mistake, refused rather than silently the default (what `hint` says).
  const given = (key: Key, hint: string): string | undefined => {
    if (!values.has(key)) return undefined;
    if (str(key) === undefined) fail(key, `must not be empty: ${hint}`);
    return values.get(key)!.value;
  };
  const parsedGiven = <T>(key: Key, hint: string, parse: (text: string) => T): T | undefined =>
    given(key, hint) === undefined ? undefined : parsed(key, parse);

  const sourceText = str("source")?.toLowerCase() ?? "report";
  if (sourceText !== "report" && sourceText !== "detections") {
    fail("source", "must be report (a report template) or detections (VMDR host detections)");
  }
  const source = sourceText as "report" | "detections";
  if (source === "report") {
    for (const key of DETECTION_KEYS) {
      const v = values.get(key);
      if (v) {
        onWarning?.(
          `${file}:${v.line}:${v.col}: "${key}" applies only with source: detections: it is ignored`,
        );
      }
    }
  }

  const userId = credentials ? required("user_id", "your Qualys username") : str("user_id");
  const password = credentials ? required("password", "your Qualys password") : str("password");
  const templateId = needTemplate && source === "report"
    ? required("template_id", "the report template ID")
    : str("template_id");
  if (templateId !== undefined && !/^\d{1,15}$/.test(templateId)) {
    fail(
      "template_id",
      "must be the digits of a report template ID, for example 424242 (from the template's Info URL, id=...)",
    );
  }

  const url = str("url") ?? DEFAULT_URL;
  let parsedUrl: URL | undefined;
  try {
    parsedUrl = new URL(url);
  } catch { /* reported below */ }
  if (!parsedUrl || parsedUrl.protocol !== "https:") {
    fail("url", `must be an https:// URL, for example ${DEFAULT_URL}`);
  }
  if (parsedUrl!.username || parsedUrl!.password) {
    // It would reach messages and the API host's logs: credentials have their own keys.
    fail("url", "must not contain credentials (user:password@): use user_id and password");
  }

  const yesNo = (key: Key, fallback: boolean): boolean =>
    str(key) === undefined ? fallback : parsed(key, parseYesNo)!;
  const addHost = yesNo("add_host", false);

  let ipRanges: IpRangeSet | undefined;
  const rangesText = str("ip_ranges");
  if (rangesText !== undefined && rangesText.toLowerCase() !== "none") {
    try {
      ipRanges = IpRangeSet.parse(rangesText);
    } catch (error) {
      fail(
        "ip_ranges",
        `is not valid: ${(error as Error).message}; ` +
          "example: 192.168.1.0/24, 10.1.2.3-10.1.2.10, 42.4.2.1",
      );
    }
  }

  const proxy = str("proxy");
  if (proxy !== undefined) {
    const m = /^(https?):\/\/(?:[^@/]*@)?(\[[0-9a-fA-F:.]+\]|[^:/?#\s]+)(?::(\d*))?\/?$/i.exec(
      proxy,
    );
    if (!m) {
      fail("proxy", "must be a URL such as https://192.168.1.100:443 or http://proxy:3128");
    }
    if (m![3] !== undefined && (m![3] === "" || Number(m![3]) > 65535)) {
      fail("proxy", "has a port outside 0-65535");
    }
    if (/@/.test(proxy)) {
      fail("proxy", "must not contain credentials: use proxy_username and proxy_password");
    }
  }
  const proxyUsername = str("proxy_username");
  const proxyPassword = str("proxy_password");
  if (proxyPassword !== undefined && proxyUsername === undefined) {
    fail("proxy_password", "is set but proxy_username is not: set both, or neither");
  }

  const caFile = str("ca_file");
  const positive = (key: Key, fallback: number, unit: string, max: number): number => {
    const v = str(key);
    if (v === undefined) return fallback;
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0 || Number(v) > max) {
      fail(key, `must be a number of ${unit} greater than 0 and at most ${max}`);
    }
    return Number(v);
  };
  const maxReportWaitMinutes = positive("max_report_wait", 180, "minutes", 10080);
  const pollIntervalSeconds = positive("poll_interval", 5, "seconds", 3600);
  const dcName = (text: string) => parseDcName(text.trim() === "~" ? "" : text);
  const scannerName = parsed("scanner_name", dcName) ?? "QualysGuard";
  const sourceName = parsed("source_name", dcName) ?? "QualysGuard Scan Report";
  const severities = parsedGiven(
    "severities",
    "write them (3-5 or 3,4,5), or leave the line out to import every severity",
    parseSeverities,
  );
  const vulnTypes = parsedGiven(
    "vuln_types",
    "write them (confirmed, potential, info), or leave the line out for confirmed, potential",
    parseVulnTypes,
  ) ?? ["confirmed" as const, "potential" as const];
  const assetGroupIds = parsedGiven(
    "asset_group_ids",
    "write the IDs, or leave the line out for the hosts of every asset group",
    parseIdList,
  );
  const stateDir = given(
    "state_dir",
    "name a directory, or leave the line out for <YAML name>.state beside the YAML",
  )?.trim();
  const domain = parsedGiven(
    "domain",
    "name the leaf domain (a UUID or a path such as Global \\ Branch A), or leave the line " +
      "out on a single-domain FMC",
    parseDomain,
  );
  const apiVersions = parsed("api_versions", parseApiVersions) ?? DEFAULT_API_VERSIONS;
  for (const name of ENDPOINT_NAMES) {
    const ended = ENDPOINTS[name].ended[apiVersions[name]];
    const v = values.get("api_versions");
    if (ended && v) {
      onWarning?.(
        `${file}:${v.line}:${v.col}: "api_versions" asks ${ENDPOINTS[name].title} ` +
          `${apiVersions[name]}, which Qualys has ended (${ended}): Qualys may refuse it; the ` +
          `current version is ${ENDPOINTS[name].version}`,
      );
    }
  }
  const gatewayUrl = str("gateway_url");
  if (gatewayUrl !== undefined) {
    let gateway: URL | undefined;
    try {
      gateway = new URL(gatewayUrl);
    } catch { /* reported below */ }
    if (!gateway || gateway.protocol !== "https:" || gateway.search || gateway.hash) {
      fail(
        "gateway_url",
        "must be the https:// URL of your platform's Qualys API gateway, for example " +
          "https://gateway.qg2.apps.qualys.com (Help > About in the Qualys web interface)",
      );
    }
    if (gateway!.username || gateway!.password) {
      fail(
        "gateway_url",
        "must not contain credentials (user:password@): use user_id and password",
      );
    }
  }
  const dcFingerprint = str("dc_fingerprint") === undefined
    ? undefined
    : parsed("dc_fingerprint", parseFingerprint);
  return Object.freeze({
    file,
    userId,
    password,
    templateId,
    url: url.replace(/\/+$/, ""),
    addHost,
    ipRanges,
    proxy,
    proxyUsername,
    proxyPassword,
    caFile,
    scannerName,
    sourceName,
    maxReportWaitMinutes,
    pollIntervalSeconds,
    source,
    severities,
    vulnTypes,
    assetGroupIds,
    stateDir,
    domain,
    dcFingerprint,
    setOs: yesNo("set_os", false),
    clearCleanHosts: yesNo("clear_clean_hosts", true),
    apiVersions,
    gatewayUrl: gatewayUrl?.replace(/\/+$/, ""),
  });
}

function offsetOf(node: unknown): number {
  return (node as { range?: number[] } | null)?.range?.[0] ?? 0;
}

/** Options for {@linkcode readConfig}. */
export interface ReadConfigOptions extends ConfigRequirements {
  /** When the file does not exist, use the defaults instead of failing. @default {false} */
  missingIsDefault?: boolean;
}

/**
 * Reads and validates a config file; warns (through `onWarning`) when others can read it and it
 * holds a password (`password` or `proxy_password`).
 *
 * @throws {ConfigError} When the file is missing (unless `missingIsDefault`), unreadable or invalid.
 */
export async function readConfig(
  path: string,
  options: ReadConfigOptions = {},
): Promise<QualysConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      if (options.missingIsDefault) return defaultConfig();
      throw new ConfigError(
        "The plugin configuration file does not exist: create it (see the sample in the README) " +
          "or name it with -plugininfo",
        { file: path },
      );
    }
    if (error instanceof Deno.errors.IsADirectory) {
      throw new ConfigError(
        "is a directory: name the plugin configuration file itself with -plugininfo, for " +
          `example -plugininfo ${path.replace(/\/+$/, "")}/QualysGuard.yaml`,
        { file: path, cause: error },
      );
    }
    throw new ConfigError(
      `Cannot read the plugin configuration: ${(error as Error).message}`,
      { file: path, cause: error },
    );
  }
  const config = await parseConfig(text, path, options);
  // Only a file that holds a password is worth a warning: one with just a template ID is not.
  const holds = config.password !== undefined
    ? "your Qualys password"
    : config.proxyPassword !== undefined
    ? "your proxy password"
    : undefined;
  try {
    const st = await Deno.stat(path);
    if (holds && st.mode !== null && (st.mode & 0o004) !== 0) {
      options.onWarning?.(
        `${path} is readable by other users and holds ${holds}: run chmod 600 ${path}`,
      );
    }
  } catch { /* stat after read: ignore */ }
  return config;
}
