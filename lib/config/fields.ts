/**
 * The plugin YAML's keys, described once (README: Configuration): one row per key with the
 * concern it belongs to (the Qualys account, the source of findings, the commands written, the
 * trust in the Defense Center), its default, whether it is a secret, whether it applies only to
 * the detection source, and how its text is read (what is required when, what is refused and how
 * the message says to fix it). `read_config.ts` runs a short loop over the rows in this order,
 * which is the order in which values are checked: the first wrong one is the one reported.
 *
 * @module
 */

import { IpRangeSet } from "./ip_ranges.ts";
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
  parseRefreshDays,
  parseSeverities,
  parseVulnTypes,
  parseYesNo,
  type VulnType,
} from "./values.ts";

/** Where the findings come from: a report template, or host detections (VMDR). */
export type SourceKind = "report" | "detections";

/** The Qualys account and how it is reached. */
export interface AccountConfig {
  /** Qualys username. */
  readonly userId?: string | undefined;
  /** Qualys password. */
  readonly password?: string | undefined;
  /** Qualys API base URL (https). */
  readonly url: string;
  /** Proxy URL (http or https). */
  readonly proxy?: string | undefined;
  /** Proxy Basic-auth user. */
  readonly proxyUsername?: string | undefined;
  /** Proxy Basic-auth password. */
  readonly proxyPassword?: string | undefined;
  /** Extra CA certificates (PEM file) for the Qualys API and the proxy. */
  readonly caFile?: string | undefined;
  /** The version of each Qualys API endpoint (`api_versions` over the defaults). */
  readonly apiVersions: ApiVersions;
  /** The Qualys API gateway (`gateway_url`); undefined: the platform's, when `url` names one. */
  readonly gatewayUrl?: string | undefined;
}

/** What is read, and which of it is kept. */
export interface SourceConfig {
  /** A report template, or host detections (VMDR). */
  readonly kind: SourceKind;
  /** Report template ID (digits). */
  readonly templateId?: string | undefined;
  /** Longest wait for a launched report to finish, in minutes. */
  readonly maxReportWaitMinutes: number;
  /** First interval between report status polls, in seconds (later ones grow to 60 s). */
  readonly pollIntervalSeconds: number;
  /** Only hosts inside these ranges are processed; undefined means all. */
  readonly ipRanges?: IpRangeSet | undefined;
  /** Detections only: the severities to import (1-5); undefined means all. */
  readonly severities?: readonly number[] | undefined;
  /** Detections only: the detection types to import. */
  readonly vulnTypes: readonly VulnType[];
  /** Detections only: only hosts in these asset groups; undefined means all. */
  readonly assetGroupIds?: readonly string[] | undefined;
  /** The state directory (the record of what each destination holds; the detection source's sync state and KB cache), as written (relative: to the YAML's directory). */
  readonly stateDir?: string | undefined;
}

/** What the commands say besides the findings. */
export interface OutputConfig {
  /** Emit AddHost before each host's results. */
  readonly addHost: boolean;
  /** The AddScanResult scanner id. */
  readonly scannerName: string;
  /** The SetSource name. */
  readonly sourceName: string;
  /** Send each host's operating system (`SetOS`). */
  readonly setOs: boolean;
  /** Clear, on the Defense Center, hosts the source lists without an open finding. */
  readonly clearCleanHosts: boolean;
  /** The Defense Center domain (UUID or path) for `SetDomain`; undefined on a single-domain FMC. */
  readonly domain?: string | undefined;
  /**
   * A Defense Center gets only what changed, and each unchanged host again once in this many
   * days (the rolling refresh); 0: every host every run.
   */
  readonly refreshDays: number;
}

/** How the Defense Center is trusted, besides the `.pkcs12`'s CA. */
export interface DcTrustConfig {
  /** The SHA-256 (lower-case hex) of the one Defense Center certificate to trust. */
  readonly fingerprint?: string | undefined;
}

/** Where a run reports itself to monitors (README: Monitoring). */
export interface MonitorConfig {
  /** The JSON run record (`json_file`), as written (relative: to the YAML's directory). */
  readonly jsonFile?: string | undefined;
  /** The Prometheus text file (`metrics_file`), as written (relative: to the YAML's directory). */
  readonly metricsFile?: string | undefined;
}

/** The concerns of the configuration, by name. */
export interface Concerns {
  /** The Qualys account. */
  account: AccountConfig;
  /** The source of findings. */
  source: SourceConfig;
  /** The commands written. */
  output: OutputConfig;
  /** The trust in the Defense Center. */
  dcTrust: DcTrustConfig;
  /** The reports to monitors. */
  monitor: MonitorConfig;
}

/** What a row's `read` gets: its key's value, and how to refuse it. */
export interface FieldInput {
  /** The value as written (a secret's untrimmed); undefined when the key is not in the file. */
  readonly raw: string | undefined;
  /** The value trimmed (a secret's as written); undefined when absent, empty or `~`. */
  readonly text: string | undefined;
  /** What the run needs: credentials and a template ID (not with `-report`, ...), the source. */
  readonly needs: { credentials: boolean; templateId: boolean; source: SourceKind };
  /** Refuses the value: `"<key>" <message>`, at the value's position. */
  fail(message: string): never;
  /** `text`, or a refusal that the key is missing or empty (`why`: what it holds). */
  required(why: string): string;
  /**
   * The value as written through a parser of `values.ts` (a RangeError refuses it); undefined
   * when absent.
   */
  parse<T>(parser: (text: string) => T): T | undefined;
  /**
   * The value as written; undefined when the key is left out. A new key left out takes its
   * default; written with an empty value (`vuln_types:`, `''`, `~`) it is refused rather than
   * silently the default (`hint` says what to write).
   */
  given(hint: string): string | undefined;
  /** The `text` of another key (read before this one). */
  other(key: string): string | undefined;
  /** Warns, at the value's position. */
  warn(message: string): void;
}

/** One key of the plugin YAML. */
export type Field = {
  [C in keyof Concerns]: {
    [N in keyof Concerns[C]]-?: {
      /** The YAML key. */
      readonly key: string;
      /** The concern it belongs to. */
      readonly concern: C;
      /** Its property in that concern. */
      readonly name: N;
      /** The value when the key is left out (or its text is empty); none: undefined. */
      readonly default?: Concerns[C][N];
      /** Never shown in a message, nor the YAML library's message on its line; not trimmed. */
      readonly secret?: boolean;
      /** A password: YAML syntax that silently changes it (a comment, an anchor) is warned. */
      readonly password?: boolean;
      /** Applies only with `source: detections` (warned, and ignored, with a report). */
      readonly detectionsOnly?: boolean;
      /** Reads the value; undefined takes the default. */
      read(input: FieldInput): Concerns[C][N] | undefined;
    };
  }[keyof Concerns[C]];
}[keyof Concerns];

/** The default Qualys API URL. */
export const DEFAULT_URL = "https://qualysapi.qualys.com";

/** A key whose empty value means its default, read as yes or no. */
const yesNo = (input: FieldInput) => input.text === undefined ? undefined : input.parse(parseYesNo);

/** A number of `unit` from above 0 to `max`. */
const positive = (unit: string, max: number) => (input: FieldInput) => {
  const v = input.text;
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0 || Number(v) > max) {
    input.fail(`must be a number of ${unit} greater than 0 and at most ${max}`);
  }
  return Number(v);
};

/** A name the Defense Center takes (`~` alone is empty). */
const dcName = (input: FieldInput) =>
  input.parse((text) => parseDcName(text.trim() === "~" ? "" : text));

/** A new key whose empty value is refused (see {@linkcode FieldInput.given}). */
const parsedGiven = <T>(hint: string, parser: (text: string) => T) => (input: FieldInput) =>
  input.given(hint) === undefined ? undefined : input.parse(parser);

/**
 * A file a run writes for monitors (`json_file`, `metrics_file`): a path, not `-` (standard
 * output is for the command line's `-json -`, where the log moves to stderr).
 */
const monitorFile = (what: string) => (input: FieldInput) => {
  const path = input.given(`name ${what}, or leave the line out`)?.trim();
  if (path === "-") {
    input.fail(`must name a file: for standard output, give -json - on the command line`);
  }
  return path;
};

/**
 * An https:// URL without credentials (with `bare`, nor a query or fragment); trailing slashes
 * dropped. `problem` says what it must be.
 */
function httpsUrl(input: FieldInput, problem: string, bare: boolean): string | undefined {
  const text = input.text;
  if (text === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch { /* reported below */ }
  if (!url || url.protocol !== "https:" || (bare && (url.search || url.hash))) input.fail(problem);
  if (url!.username || url!.password) {
    // It would reach messages and the API host's logs: credentials have their own keys.
    input.fail("must not contain credentials (user:password@): use user_id and password");
  }
  return text.replace(/\/+$/, "");
}

/** Every key, in the order its value is checked. */
export const FIELDS: readonly Field[] = [
  {
    key: "source",
    concern: "source",
    name: "kind",
    default: "report",
    read(input) {
      const text = input.text?.toLowerCase();
      if (text !== undefined && text !== "report" && text !== "detections") {
        input.fail("must be report (a report template) or detections (VMDR host detections)");
      }
      return text as SourceKind | undefined;
    },
  },
  {
    key: "user_id",
    concern: "account",
    name: "userId",
    secret: true,
    read: (input) => input.needs.credentials ? input.required("your Qualys username") : input.text,
  },
  {
    key: "password",
    concern: "account",
    name: "password",
    secret: true,
    password: true,
    read: (input) => input.needs.credentials ? input.required("your Qualys password") : input.text,
  },
  {
    key: "template_id",
    concern: "source",
    name: "templateId",
    read(input) {
      const id = input.needs.templateId && input.needs.source === "report"
        ? input.required("the report template ID")
        : input.text;
      if (id !== undefined && !/^\d{1,15}$/.test(id)) {
        input.fail(
          "must be the digits of a report template ID, for example 424242 (from the template's Info URL, id=...)",
        );
      }
      return id;
    },
  },
  {
    key: "url",
    concern: "account",
    name: "url",
    default: DEFAULT_URL,
    read: (input) => httpsUrl(input, `must be an https:// URL, for example ${DEFAULT_URL}`, false),
  },
  { key: "add_host", concern: "output", name: "addHost", default: false, read: yesNo },
  {
    key: "ip_ranges",
    concern: "source",
    name: "ipRanges",
    read(input) {
      const text = input.text;
      if (text === undefined || text.toLowerCase() === "none") return undefined;
      try {
        return IpRangeSet.parse(text);
      } catch (error) {
        return input.fail(
          `is not valid: ${(error as Error).message}; ` +
            "example: 192.168.1.0/24, 10.1.2.3-10.1.2.10, 42.4.2.1",
        );
      }
    },
  },
  {
    key: "proxy",
    concern: "account",
    name: "proxy",
    read(input) {
      const proxy = input.text;
      if (proxy === undefined) return undefined;
      const m = /^(https?):\/\/(?:[^@/]*@)?(\[[0-9a-fA-F:.]+\]|[^:/?#\s]+)(?::(\d*))?\/?$/i.exec(
        proxy,
      );
      if (!m) {
        input.fail("must be a URL such as https://192.168.1.100:443 or http://proxy:3128");
      }
      if (m![3] !== undefined && (m![3] === "" || Number(m![3]) > 65535)) {
        input.fail("has a port outside 0-65535");
      }
      if (/@/.test(proxy)) {
        input.fail("must not contain credentials: use proxy_username and proxy_password");
      }
      return proxy;
    },
  },
  {
    key: "proxy_username",
    concern: "account",
    name: "proxyUsername",
    secret: true,
    read: (input) => input.text,
  },
  {
    key: "proxy_password",
    concern: "account",
    name: "proxyPassword",
    secret: true,
    password: true,
    read(input) {
      if (input.text !== undefined && input.other("proxy_username") === undefined) {
        input.fail("is set but proxy_username is not: set both, or neither");
      }
      return input.text;
    },
  },
  { key: "ca_file", concern: "account", name: "caFile", read: (input) => input.text },
  {
    key: "max_report_wait",
    concern: "source",
    name: "maxReportWaitMinutes",
    default: 180,
    read: positive("minutes", 10080),
  },
  {
    key: "poll_interval",
    concern: "source",
    name: "pollIntervalSeconds",
    default: 5,
    read: positive("seconds", 3600),
  },
  {
    key: "scanner_name",
    concern: "output",
    name: "scannerName",
    default: "QualysGuard",
    read: dcName,
  },
  {
    key: "source_name",
    concern: "output",
    name: "sourceName",
    default: "QualysGuard Scan Report",
    read: dcName,
  },
  {
    key: "severities",
    concern: "source",
    name: "severities",
    detectionsOnly: true,
    read: parsedGiven(
      "write them (3-5 or 3,4,5), or leave the line out to import every severity",
      parseSeverities,
    ),
  },
  {
    key: "vuln_types",
    concern: "source",
    name: "vulnTypes",
    default: ["confirmed", "potential"],
    detectionsOnly: true,
    read: parsedGiven(
      "write them (confirmed, potential, info), or leave the line out for confirmed, potential",
      parseVulnTypes,
    ),
  },
  {
    key: "asset_group_ids",
    concern: "source",
    name: "assetGroupIds",
    detectionsOnly: true,
    read: parsedGiven(
      "write the IDs, or leave the line out for the hosts of every asset group",
      parseIdList,
    ),
  },
  {
    key: "state_dir",
    concern: "source",
    name: "stateDir",
    read: (input) =>
      input.given(
        "name a directory, or leave the line out for <YAML name>.state beside the YAML",
      )?.trim(),
  },
  {
    key: "domain",
    concern: "output",
    name: "domain",
    read: parsedGiven(
      "name the leaf domain (a UUID or a path such as Global \\ Branch A), or leave the line " +
        "out on a single-domain FMC",
      parseDomain,
    ),
  },
  {
    key: "api_versions",
    concern: "account",
    name: "apiVersions",
    default: DEFAULT_API_VERSIONS,
    read(input) {
      const versions = input.parse(parseApiVersions);
      for (const name of versions ? ENDPOINT_NAMES : []) {
        const ended = ENDPOINTS[name].ended[versions![name]];
        if (ended) {
          input.warn(
            `"api_versions" asks ${ENDPOINTS[name].title} ${versions![name]}, which Qualys has ` +
              `ended (${ended}): Qualys may refuse it; the current version is ` +
              ENDPOINTS[name].version,
          );
        }
      }
      return versions;
    },
  },
  {
    key: "gateway_url",
    concern: "account",
    name: "gatewayUrl",
    read: (input) =>
      httpsUrl(
        input,
        "must be the https:// URL of your platform's Qualys API gateway, for example " +
          "https://gateway.qg2.apps.qualys.com (Help > About in the Qualys web interface)",
        true,
      ),
  },
  {
    key: "dc_fingerprint",
    concern: "dcTrust",
    name: "fingerprint",
    read: (input) => input.text === undefined ? undefined : input.parse(parseFingerprint),
  },
  { key: "set_os", concern: "output", name: "setOs", default: false, read: yesNo },
  {
    key: "clear_clean_hosts",
    concern: "output",
    name: "clearCleanHosts",
    default: true,
    read: yesNo,
  },
  {
    key: "refresh_days",
    concern: "output",
    name: "refreshDays",
    default: 7,
    read: parsedGiven(
      "write a number of days (0 sends every host every run), or leave the line out for 7",
      parseRefreshDays,
    ),
  },
  {
    key: "json_file",
    concern: "monitor",
    name: "jsonFile",
    read: monitorFile("a JSON run record"),
  },
  {
    key: "metrics_file",
    concern: "monitor",
    name: "metricsFile",
    read: monitorFile(
      "a Prometheus text file such as /var/lib/node_exporter/qualys_connector.prom",
    ),
  },
];
