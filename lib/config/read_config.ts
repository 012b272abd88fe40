/**
 * The plugin configuration, `InputPlugins/QualysGuard.yaml` (README: Configuration): its YAML read
 * as text (`yaml_values.ts`), then a short loop over the table of keys (`fields.ts`), which says
 * for each what it holds, its default and how it is checked, into the settings by concern: the
 * Qualys account, the source of findings, the commands written, the trust in the Defense Center.
 * Errors name the file, line and column and say what to change; secret values never appear in
 * a message.
 *
 * @module
 */

import { ConfigError, fileErrorReason } from "../errors.ts";
import {
  type AccountConfig,
  type Concerns,
  type DcTrustConfig,
  DEFAULT_URL,
  type Field,
  type FieldInput,
  FIELDS,
  type MonitorConfig,
  type OutputConfig,
  type SourceConfig,
  type SourceKind,
} from "./fields.ts";
import { type CommandLineOption, readYamlValues, type YamlValue } from "./yaml_values.ts";

export type { AccountConfig, DcTrustConfig, MonitorConfig, OutputConfig, SourceConfig, SourceKind };
export { DEFAULT_URL };

/** The validated settings, by concern. */
export interface QualysConfig {
  /** The file the settings came from ("(defaults)" when none was read). */
  readonly file: string;
  /** The Qualys account and how it is reached. */
  readonly account: AccountConfig;
  /** What is read (a report template, or host detections), and which of it is kept. */
  readonly source: SourceConfig;
  /** What the commands say besides the findings. */
  readonly output: OutputConfig;
  /** How the Defense Center is trusted, besides the `.pkcs12`'s CA. */
  readonly dcTrust: DcTrustConfig;
  /** Where a run reports itself to monitors. */
  readonly monitor: MonitorConfig;
}

/** What a config must contain, which depends on how the connector runs. */
export interface ConfigRequirements {
  /** `user_id` and `password` are required (not with `-report`). @default {true} */
  credentials?: boolean;
  /** `template_id` is required (not with `-report`, `-multiinfo` or `source: detections`). @default {true} */
  templateId?: boolean;
  /** Receives warnings: unknown keys, keys that do not apply, a file others can read. */
  onWarning?: ((message: string) => void) | undefined;
  /**
   * The command-line options: a key that is one (`server:`) is warned as such, with the option
   * to give instead. @default none
   */
  commandLine?: readonly CommandLineOption[] | undefined;
}

const KEYS = FIELDS.map((f) => f.key);
const SECRET_KEYS = new Set(FIELDS.filter((f) => f.secret).map((f) => f.key));
const PASSWORD_KEYS = new Set(FIELDS.filter((f) => f.password).map((f) => f.key));

/** The concerns with every key's default (undefined where it has none). */
function defaults(): Record<keyof Concerns, Record<string, unknown>> {
  const out = { account: {}, source: {}, output: {}, dcTrust: {}, monitor: {} } as Record<
    keyof Concerns,
    Record<string, unknown>
  >;
  for (const field of FIELDS) out[field.concern][field.name] = field.default;
  return out;
}

function freeze(file: string, c: Record<keyof Concerns, Record<string, unknown>>): QualysConfig {
  return Object.freeze({
    file,
    account: Object.freeze(c.account) as unknown as AccountConfig,
    source: Object.freeze(c.source) as unknown as SourceConfig,
    output: Object.freeze(c.output) as unknown as OutputConfig,
    dcTrust: Object.freeze(c.dcTrust) as unknown as DcTrustConfig,
    monitor: Object.freeze(c.monitor) as unknown as MonitorConfig,
  });
}

/**
 * The settings used when there is no config file (`-report` without `-plugininfo`): every key's
 * default.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const config = defaultConfig();
 * assert.equal(config.output.scannerName, "QualysGuard");
 * assert.equal(config.source.kind, "report");
 * ```
 */
export function defaultConfig(): QualysConfig {
  return freeze("(defaults)", defaults());
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
 * assert.equal(cfg.source.templateId, "424242");
 * assert.equal(cfg.output.addHost, true);
 * ```
 */
export async function parseConfig(
  text: string,
  file: string,
  requirements: ConfigRequirements = {},
): Promise<QualysConfig> {
  const { credentials = true, templateId = true, onWarning } = requirements;
  const values = await readYamlValues(text, file, {
    keys: KEYS,
    secret: SECRET_KEYS,
    password: PASSWORD_KEYS,
    onWarning,
    commandLine: requirements.commandLine,
  });
  const config = defaults();
  const needs = { credentials, templateId, source: "report" as SourceKind };
  for (const field of FIELDS) {
    const value = field.read(fieldInput(field, values, { file, needs, onWarning }));
    if (value !== undefined) config[field.concern][field.name] = value;
    if (field.key !== "source") continue;
    needs.source = config.source.kind as SourceKind;
    if (needs.source !== "report") continue;
    for (const f of FIELDS) {
      const v = values.get(f.key);
      if (f.detectionsOnly && v) {
        onWarning?.(
          `${file}:${v.line}:${v.col}: "${f.key}" applies only with source: detections: it is ignored`,
        );
      }
    }
  }
  return freeze(file, config);
}

/** What a row of the table gets: its key's value and position, and what the run needs. */
function fieldInput(
  field: Field,
  values: ReadonlyMap<string, YamlValue>,
  run: {
    file: string;
    needs: FieldInput["needs"];
    onWarning: ((message: string) => void) | undefined;
  },
): FieldInput {
  const { key } = field;
  const v = values.get(key);
  const textOf = (k: string, secret: boolean): string | undefined => {
    const raw = values.get(k)?.value;
    if (raw === undefined) return undefined;
    const t = secret ? raw : raw.trim();
    return t === "" || t === "~" ? undefined : t;
  };
  const text = textOf(key, field.secret ?? false);
  const fail = (message: string): never => {
    throw new ConfigError(`"${key}" ${message}`, { file: run.file, line: v?.line, column: v?.col });
  };
  const parse = <T>(parser: (text: string) => T): T | undefined => {
    if (v === undefined) return undefined;
    try {
      return parser(v.value);
    } catch (error) {
      if (error instanceof RangeError) fail(error.message);
      throw error;
    }
  };
  return {
    raw: v?.value,
    text,
    needs: run.needs,
    fail,
    required(why) {
      if (text === undefined) fail(`is missing or empty: add a line \`${key}: ...\` (${why})`);
      return text!;
    },
    parse,
    given(hint) {
      if (v === undefined) return undefined;
      if (text === undefined) fail(`must not be empty: ${hint}`);
      return v.value;
    },
    other: (k) => textOf(k, FIELDS.some((f) => f.key === k && f.secret)),
    warn: (message) => run.onWarning?.(`${run.file}:${v?.line}:${v?.col}: ${message}`),
  };
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
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/QualysGuard.yaml`, "source: detections\nset_os: y\n", { mode: 0o600 });
 * const config = await readConfig(`${dir}/QualysGuard.yaml`, { credentials: false });
 * assert.equal(config.source.kind, "detections");
 * assert.equal(config.output.setOs, true);
 * assert.equal(config.account.url, "https://qualysapi.qualys.com");
 * await assert.rejects(readConfig(`${dir}/missing.yaml`), { name: "ConfigError", exitCode: 2 });
 * await Deno.remove(dir, { recursive: true });
 * ```
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
      `Cannot read the plugin configuration: ${fileErrorReason(error)}: check the -plugininfo path`,
      { file: path, cause: error },
    );
  }
  const config = await parseConfig(text, path, options);
  // Only a file that holds a password is worth a warning: one with just a template ID is not.
  const holds = config.account.password !== undefined
    ? "your Qualys password"
    : config.account.proxyPassword !== undefined
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
