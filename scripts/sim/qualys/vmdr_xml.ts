/**
 * XML for the Qualys VMDR simulator: Host List Detection `HOST` elements, Host List output,
 * KnowledgeBase `VULN` elements, `WARNING`, `REQUEST`, `SIMPLE_RETURN` and keep-alive comments,
 * written as the real API writes them (element names and order from the public DTDs and samples:
 * `demisto/hld_host_list_detections_raw.xml`, `demisto/kb_vulnerabilities_raw.xml`,
 * `qualysapi/kb_tinykb_keepalive.xml`), two-space indented, texts in CDATA.
 *
 * Each function returns one element's text; `vmdr_routes.ts` streams them.
 *
 * @module
 */

import {
  type DetectionRecord,
  formatDateTime,
  type HostRecord,
  type KbRecord,
  type VmdrQuery,
  type VmdrSubscription,
} from "./subscription/mod.ts";

/** The DOCTYPE system IDs the simulator writes (never fetched by a correct client). */
export const DTD = {
  detection: "https://qualysapi.qualys.com/api/2.0/fo/asset/host/vm/detection/dtd/output.dtd",
  host: "https://qualysapi.qualys.com/api/2.0/fo/asset/host/dtd/output.dtd",
  kb:
    "https://qualysapi.qualys.com/api/2.0/fo/knowledge_base/vuln/knowledge_base_vuln_list_output.dtd",
  simpleReturn: "https://qualysapi.qualys.com/api/2.0/simple_return.dtd",
} as const;

/** The comment Qualys writes after the root element (observed). */
export const TRAILER =
  `<!-- CONFIDENTIAL AND PROPRIETARY INFORMATION. Qualys provides the QualysGuard Service "As Is," without any warranty of any kind. Qualys makes no warranty that the information contained in this report is complete or error-free. Copyright 2026, Qualys, Inc. //-->\n`;

/** A keep-alive comment, as the server writes them while it generates output (observed form).
 * @param root The root element's name.
 * @returns The comment line.
 */
export function keepAlive(root: string): string {
  return `<!-- keep-alive for ${root}  -->\n`;
}

/** Escapes text for element content or a double-quoted attribute.
 * @param text Any text.
 * @returns `&`, `<`, `>` and `"` escaped.
 */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;",
  );
}

/** Wraps text in CDATA, splitting any `]]>` it holds.
 * @param text Any text.
 * @returns One or more CDATA sections.
 */
export function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll("]]>", "]]]]><![CDATA[>")}]]>`;
}

/** The XML declaration, DOCTYPE and root start tag.
 * @param root Root element name.
 * @param dtd DOCTYPE system ID.
 * @returns The prolog and `<ROOT>` line.
 */
export function prolog(root: string, dtd: string): string {
  return `<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE ${root} SYSTEM "${dtd}">\n<${root}>\n`;
}

/** A `SIMPLE_RETURN` document (errors and messages).
 * @param datetime The server clock, epoch seconds.
 * @param text TEXT.
 * @param code CODE, or "" for none.
 * @param items ITEM_LIST key/value pairs.
 * @returns The document.
 */
export function simpleReturnXml(
  datetime: number,
  text: string,
  code = "",
  items: readonly (readonly [string, string])[] = [],
): string {
  return prolog("SIMPLE_RETURN", DTD.simpleReturn) +
    `  <RESPONSE>\n    <DATETIME>${formatDateTime(datetime)}</DATETIME>\n` +
    (code ? `    <CODE>${escapeXml(code)}</CODE>\n` : "") +
    `    <TEXT>${escapeXml(text)}</TEXT>\n` +
    (items.length
      ? `    <ITEM_LIST>\n${
        items.map(([k, v]) =>
          `      <ITEM>\n        <KEY>${escapeXml(k)}</KEY>\n        <VALUE>${
            escapeXml(v)
          }</VALUE>\n      </ITEM>\n`
        ).join("")
      }    </ITEM_LIST>\n`
      : "") +
    `  </RESPONSE>\n</SIMPLE_RETURN>\n`;
}

/** The `REQUEST` element written for `echo_request=1`.
 * @param datetime The server clock, epoch seconds.
 * @param user The login.
 * @param resource The URL of the endpoint.
 * @param params The request's parameters, in order.
 * @returns The element, indented for a root child.
 */
export function requestXml(
  datetime: number,
  user: string,
  resource: string,
  params: readonly (readonly [string, string])[],
): string {
  return `  <REQUEST>\n    <DATETIME>${formatDateTime(datetime)}</DATETIME>\n` +
    `    <USER_LOGIN>${escapeXml(user)}</USER_LOGIN>\n    <RESOURCE>${
      escapeXml(resource)
    }</RESOURCE>\n` +
    (params.length
      ? `    <PARAM_LIST>\n${
        params.map(([k, v]) =>
          `      <PARAM>\n        <KEY>${escapeXml(k)}</KEY>\n        <VALUE>${
            cdata(v)
          }</VALUE>\n      </PARAM>\n`
        ).join("")
      }    </PARAM_LIST>\n`
      : "") +
    `  </REQUEST>\n`;
}

/** The truncation `WARNING` (CODE 1980) with the URL of the next page.
 * @param limit The page size (`truncation_limit`).
 * @param url The next page's URL ("": none, a fault).
 * @returns The element, indented for a RESPONSE child.
 */
export function warningXml(limit: number, url: string): string {
  return `    <WARNING>\n      <CODE>1980</CODE>\n      <TEXT>${limit} record limit exceeded. ` +
    `Use URL to get next batch of results.</TEXT>\n${
      url ? `      <URL>${cdata(url)}</URL>\n` : ""
    }    </WARNING>\n`;
}

/** What a `HOST` element shows besides the detections. */
export interface HostXmlOptions {
  /** `show_results` (RESULTS in CDATA). */
  showResults: boolean;
  /** `show_qds` (a QDS element with a `severity` attribute). */
  showQds: boolean;
  /** `show_qds_factors` (QDS_FACTORS/QDS_FACTOR elements with a `name` attribute). */
  showQdsFactors: boolean;
  /** `show_tags` (TAGS). */
  showTags: boolean;
  /** `show_asset_id` (ASSET_ID). */
  showAssetId: boolean;
  /** Write elements the DTD does not have (UNIQUE_VULN_ID, ASSET_CRITICALITY_SCORE, …). */
  unknownElements: boolean;
  /** Write what 5.0 answers add ({@linkcode V5_ELEMENTS}). */
  v5Elements: boolean;
  /** Put a keep-alive comment among this host's detections. */
  keepAliveInside: boolean;
}

const SEVERITY_QDS = ["", "LOW", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

function dnsData(fqdn: string): string {
  const dot = fqdn.indexOf(".");
  return `        <DNS_DATA>\n` +
    `          <HOSTNAME>${cdata(fqdn.slice(0, dot))}</HOSTNAME>\n` +
    `          <DOMAIN>${cdata(fqdn.slice(dot + 1))}</DOMAIN>\n` +
    `          <FQDN>${cdata(fqdn)}</FQDN>\n        </DNS_DATA>\n`;
}

function hostHead(h: HostRecord, o: Pick<HostXmlOptions, "showAssetId" | "v5Elements">): string {
  let x = `      <HOST>\n        <ID>${h.id}</ID>\n`;
  if (o.showAssetId || o.v5Elements) x += `        <ASSET_ID>${h.assetId}</ASSET_ID>\n`;
  if (h.ip) x += `        <IP>${h.ip}</IP>\n`;
  if (h.ipv6) x += `        <IPV6>${h.ipv6}</IPV6>\n`;
  x += `        <TRACKING_METHOD>${h.trackingMethod}</TRACKING_METHOD>\n`;
  x += `        <NETWORK_ID>${h.networkId}</NETWORK_ID>\n`;
  x += `        <OS>${cdata(h.os)}</OS>\n`;
  if (h.osCpe) x += `        <OS_CPE>${cdata(h.osCpe)}</OS_CPE>\n`;
  if (h.fqdn) x += `        <DNS>${cdata(h.fqdn)}</DNS>\n${dnsData(h.fqdn)}`;
  return x;
}

/** A Host List Detection `HOST` element with the detections that pass `query`'s detection-level
 * filters (the caller applies host-level filters and skips hosts with no detection left).
 * @param sub The subscription.
 * @param index The host's index.
 * @param query The filters.
 * @param o Output options.
 * @returns The element, indented for a HOST_LIST child.
 */
export function detectionHostXml(
  sub: VmdrSubscription,
  index: number,
  query: VmdrQuery,
  o: HostXmlOptions,
): string {
  const h = sub.host(index);
  let x = hostHead(h, o);
  if (h.cloudInstance) {
    x +=
      `        <CLOUD_PROVIDER>AWS</CLOUD_PROVIDER>\n        <CLOUD_SERVICE>VM</CLOUD_SERVICE>\n` +
      `        <CLOUD_RESOURCE_ID>${h.cloudInstance}</CLOUD_RESOURCE_ID>\n` +
      `        <EC2_INSTANCE_ID>${h.cloudInstance}</EC2_INSTANCE_ID>\n`;
  }
  if (h.netbios) x += `        <NETBIOS>${cdata(h.netbios)}</NETBIOS>\n`;
  if (h.trackingMethod === "QAGENT") {
    x += `        <QG_HOSTID>${cdata(agentId(h))}</QG_HOSTID>\n`;
  }
  const scanned = formatDateTime(h.lastScan);
  x +=
    `        <LAST_SCAN_DATETIME>${
      formatDateTime(h.lastScan + h.scanDuration)
    }</LAST_SCAN_DATETIME>\n` +
    `        <LAST_VM_SCANNED_DATE>${scanned}</LAST_VM_SCANNED_DATE>\n` +
    `        <LAST_VM_SCANNED_DURATION>${h.scanDuration}</LAST_VM_SCANNED_DURATION>\n`;
  if (h.authenticated) {
    x += `        <LAST_VM_AUTH_SCANNED_DATE>${scanned}</LAST_VM_AUTH_SCANNED_DATE>\n` +
      `        <LAST_VM_AUTH_SCANNED_DURATION>${h.scanDuration}</LAST_VM_AUTH_SCANNED_DURATION>\n`;
  }
  if (o.showTags || o.v5Elements) x += tagsXml(h, "        ");
  if (o.v5Elements) x += cloudXml(h, "        ");
  if (o.unknownElements) {
    x += `        <ASSET_CRITICALITY_SCORE>${h.criticality}</ASSET_CRITICALITY_SCORE>\n`;
  }
  if (o.v5Elements) {
    x += `        <TRURISK_SCORE>${h.criticality * 170 + (h.id % 97)}</TRURISK_SCORE>\n`;
  }
  x += `        <DETECTION_LIST>\n`;
  let n = 0;
  sub.forEachDetection(index, query, (d) => {
    if (o.keepAliveInside && n++ === 1) x += keepAlive("HOST_LIST_VM_DETECTION_OUTPUT");
    x += detectionXml(d, h, o);
  });
  return x + `        </DETECTION_LIST>\n      </HOST>\n`;
}

function agentId(h: HostRecord): string {
  const x = (h.id * 2654435761 >>> 0).toString(16).padStart(8, "0");
  return `${x}-${x.slice(0, 4)}-4${x.slice(1, 4)}-a${x.slice(5, 8)}-0000${x}`;
}

function tagsXml(h: HostRecord, pad: string): string {
  let x = `${pad}<TAGS>\n`;
  for (const id of h.agIds) {
    x += `${pad}  <TAG>\n${pad}    <TAG_ID>${id - 4600000}</TAG_ID>\n${pad}    <NAME>${
      cdata(`AG ${id}`)
    }</NAME>\n${pad}  </TAG>\n`;
  }
  return x + `${pad}</TAGS>\n`;
}

/**
 * What 5.0 answers add, as far as it is public (`../shared/reference/qualys_api_versions.md`,
 * "What changes in the answers": elastic/integrations PR #16436, the Qualys DTD's TAGS and
 * METADATA): per host ASSET_ID, TAGS/TAG/{TAG_ID,NAME}, cloud METADATA blocks (EC2, ALICLOUD)
 * of ATTRIBUTE/{NAME,VALUE}, CLOUD_PROVIDER_TAGS and TRURISK_SCORE; per detection a CVE list,
 * MITRE_TACTIC_* and MITRE_TECHNIQUE_*, VULNERABILITY_DETECTION_SOURCES,
 * LATEST_VULNERABILITY_DETECTION_SOURCE and TRURISK_ELIMINATION_STATUS (QDS and QDS_FACTORS
 * come with `show_qds`, `show_qds_factors`); the KnowledgeBase's PATCH_PUBLISHED_DATE (3.0 on,
 * elastic/integrations#13178). Where the new per-detection elements sit and how the CVE list and
 * the sources are spelt inside is not public: they are written after LAST_PROCESSED_DATETIME in
 * a plausible form, with the names the connector reads elsewhere nested in them (a CVE's ID, a
 * source's TYPE), and switchable off (`v5Elements`) so that tests cover both answers.
 */
export const V5_ELEMENTS = {
  host: ["ASSET_ID", "TAGS", "METADATA", "CLOUD_PROVIDER_TAGS", "TRURISK_SCORE"],
  detection: [
    "CVE_LIST",
    "MITRE_TACTIC_NAME",
    "MITRE_TACTIC_ID",
    "MITRE_TECHNIQUE_NAME",
    "MITRE_TECHNIQUE_ID",
    "VULNERABILITY_DETECTION_SOURCES",
    "LATEST_VULNERABILITY_DETECTION_SOURCE",
    "TRURISK_ELIMINATION_STATUS",
  ],
  vuln: ["PATCH_PUBLISHED_DATE"],
} as const;

const MITRE = [
  ["Initial Access", "TA0001", "Exploit Public-Facing Application", "T1190"],
  ["Privilege Escalation", "TA0004", "Exploitation for Privilege Escalation", "T1068"],
  ["Credential Access", "TA0006", "Unsecured Credentials", "T1552"],
] as const;

/** A cloud host's METADATA (EC2, one in four ALICLOUD) and CLOUD_PROVIDER_TAGS. */
function cloudXml(h: HostRecord, pad: string): string {
  if (!h.cloudInstance) return "";
  const block = h.id % 4 === 0 ? "ALICLOUD" : "EC2";
  const attr = (name: string, value: string) =>
    `${pad}    <ATTRIBUTE>\n${pad}      <NAME>${cdata(name)}</NAME>\n` +
    `${pad}      <LAST_STATUS>Success</LAST_STATUS>\n${pad}      <VALUE>${
      cdata(value)
    }</VALUE>\n${pad}      <LAST_SUCCESS_DATE>${
      formatDateTime(h.lastScan)
    }</LAST_SUCCESS_DATE>\n${pad}    </ATTRIBUTE>\n`;
  return `${pad}<METADATA>\n${pad}  <${block}>\n` +
    attr("latest/meta-data/instance-id", h.cloudInstance) +
    attr("latest/meta-data/local-ipv4", h.ip ?? "") +
    `${pad}  </${block}>\n${pad}</METADATA>\n` +
    `${pad}<CLOUD_PROVIDER_TAGS>\n${pad}  <CLOUD_TAG>\n${pad}    <NAME>env</NAME>\n` +
    `${pad}    <VALUE>${h.id % 2 ? "prod" : "test"}</VALUE>\n${pad}    <LAST_SUCCESS_DATE>${
      formatDateTime(h.lastScan)
    }</LAST_SUCCESS_DATE>\n${pad}  </CLOUD_TAG>\n${pad}</CLOUD_PROVIDER_TAGS>\n`;
}

/** A detection's 5.0 additions (see {@linkcode V5_ELEMENTS}), one kind per detection by its QID
 * (real answers have more of them at once: the pages stay near the size of the bench's figures);
 * the CVE IDs are made up from the QID. */
function detectionV5Xml(d: DetectionRecord): string {
  const p = "            ";
  switch (d.qid % 4) {
    case 0:
      return `${p}<CVE_LIST>\n${p}  <CVE>\n${p}    <ID>${
        cdata(`CVE-${2010 + d.qid % 16}-${1000 + d.qid % 50000}`)
      }</ID>\n${p}  </CVE>\n${p}</CVE_LIST>\n`;
    case 1: {
      const source = d.qid % 8 === 1 ? "Cloud Agent" : "Scanner";
      return `${p}<VULNERABILITY_DETECTION_SOURCES>\n${p}  <SOURCE>\n${p}    <TYPE>${source}` +
        `</TYPE>\n${p}  </SOURCE>\n${p}</VULNERABILITY_DETECTION_SOURCES>\n` +
        `${p}<LATEST_VULNERABILITY_DETECTION_SOURCE>${source}` +
        `</LATEST_VULNERABILITY_DETECTION_SOURCE>\n`;
    }
    case 2: {
      const m = MITRE[d.qid % MITRE.length]!;
      return `${p}<MITRE_TACTIC_NAME>${cdata(m[0])}</MITRE_TACTIC_NAME>\n` +
        `${p}<MITRE_TACTIC_ID>${m[1]}</MITRE_TACTIC_ID>\n` +
        `${p}<MITRE_TECHNIQUE_NAME>${cdata(m[2])}</MITRE_TECHNIQUE_NAME>\n` +
        `${p}<MITRE_TECHNIQUE_ID>${m[3]}</MITRE_TECHNIQUE_ID>\n`;
    }
    default:
      return `${p}<TRURISK_ELIMINATION_STATUS>${
        d.status === "Fixed" ? "Fixed" : "Open"
      }</TRURISK_ELIMINATION_STATUS>\n`;
  }
}

function detectionXml(d: DetectionRecord, h: HostRecord, o: HostXmlOptions): string {
  let x = `          <DETECTION>\n`;
  if (o.unknownElements) x += `            <UNIQUE_VULN_ID>${d.uniqueId}</UNIQUE_VULN_ID>\n`;
  x += `            <QID>${d.qid}</QID>\n            <TYPE>${d.type}</TYPE>\n` +
    `            <SEVERITY>${d.severity}</SEVERITY>\n`;
  if (d.protocol) {
    x += `            <PORT>${d.port}</PORT>\n            <PROTOCOL>${d.protocol}</PROTOCOL>\n`;
  }
  x += `            <SSL>${d.ssl ? 1 : 0}</SSL>\n`;
  if (o.showResults) x += `            <RESULTS>${cdata(resultsText(d, h))}</RESULTS>\n`;
  x += `            <STATUS>${d.status}</STATUS>\n` +
    `            <FIRST_FOUND_DATETIME>${formatDateTime(d.firstFound)}</FIRST_FOUND_DATETIME>\n` +
    `            <LAST_FOUND_DATETIME>${formatDateTime(d.lastFound)}</LAST_FOUND_DATETIME>\n`;
  if (o.showQds) {
    const qds = Math.min(100, d.severity * 19 + (d.qid % 7));
    x += `            <QDS severity="${SEVERITY_QDS[d.severity]}">${qds}</QDS>\n`;
  }
  if (o.showQdsFactors) {
    x += `            <QDS_FACTORS>\n              <QDS_FACTOR name="CVSS">${
      cdata(`${d.severity * 2}.${d.qid % 10}`)
    }</QDS_FACTOR>\n              <QDS_FACTOR name="epss">${
      cdata(`0.${d.qid % 1000}`)
    }</QDS_FACTOR>\n            </QDS_FACTORS>\n`;
  }
  x += `            <TIMES_FOUND>${d.timesFound}</TIMES_FOUND>\n` +
    `            <LAST_TEST_DATETIME>${formatDateTime(d.lastTest)}</LAST_TEST_DATETIME>\n` +
    `            <LAST_UPDATE_DATETIME>${formatDateTime(d.lastUpdate)}</LAST_UPDATE_DATETIME>\n`;
  if (d.lastFixed) {
    x += `            <LAST_FIXED_DATETIME>${formatDateTime(d.lastFixed)}</LAST_FIXED_DATETIME>\n`;
  }
  return x + `            <IS_IGNORED>0</IS_IGNORED>\n            <IS_DISABLED>0</IS_DISABLED>\n` +
    `            <LAST_PROCESSED_DATETIME>${
      formatDateTime(d.lastProcessed)
    }</LAST_PROCESSED_DATETIME>\n` + (o.v5Elements ? detectionV5Xml(d) : "") +
    `          </DETECTION>\n`;
}

/** The RESULTS text of a detection: scanner output as Qualys shows it (tabs, line breaks, and
 * entities that stay escaped inside the CDATA, as observed).
 * @param d The detection.
 * @param h Its host.
 * @returns The text.
 */
export function resultsText(d: DetectionRecord, h: HostRecord): string {
  const where = d.protocol ? ` on port ${d.port} over ${d.protocol.toUpperCase()}` : "";
  switch (d.qid % 5) {
    case 0:
      return `Vulnerable version detected${where}.\nVersion\tPath\n${d.qid % 13}.${
        d.qid % 7
      }.${d.port}\t/usr/lib/x86_64-linux-gnu/lib${d.qid}.so`;
    case 1:
      return `HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\nCurrentBuild\t=\t${
        17763 + d.qid % 900
      }\nUBR\t=\t${d.qid % 5000}`;
    case 2:
      return `;; -&gt;&gt;HEADER&lt;&lt;- opcode: QUERY, rcode: NOERROR, id: ${
        d.qid % 65536
      }${where}`;
    case 3:
      return d.protocol
        ? `GET / HTTP/1.1\nHost: ${
          h.fqdn ?? h.ip ?? h.ipv6
        }\n\nHTTP/1.1 200 OK\nServer: &quot;sim&quot;`
        : `Package\tInstalled Version\tRequired Version\nlib${d.qid}\t1.${d.qid % 9}\t1.${
          d.qid % 9 + 1
        }`;
    default:
      return `TLSv1.${d.qid % 2} is supported${where}`;
  }
}

/** A Host List `HOST` element (`details=Basic` or `All`). Its order differs from Host List
 * Detection's: OS comes after DNS and NETBIOS, and the scan date is LAST_VULN_SCAN_DATETIME.
 * @param h The host.
 * @param details Basic or All.
 * @param o Output options.
 * @returns The element, indented for a HOST_LIST child.
 */
export function hostListHostXml(
  h: HostRecord,
  details: "Basic" | "All",
  o: Pick<HostXmlOptions, "showAssetId" | "showTags" | "v5Elements">,
): string {
  let x = `      <HOST>\n        <ID>${h.id}</ID>\n`;
  if (o.showAssetId || o.v5Elements) x += `        <ASSET_ID>${h.assetId}</ASSET_ID>\n`;
  if (h.ip) x += `        <IP>${h.ip}</IP>\n`;
  if (h.ipv6) x += `        <IPV6>${h.ipv6}</IPV6>\n`;
  x += `        <TRACKING_METHOD>${h.trackingMethod}</TRACKING_METHOD>\n` +
    `        <NETWORK_ID>${h.networkId}</NETWORK_ID>\n`;
  if (h.fqdn) x += `        <DNS>${cdata(h.fqdn)}</DNS>\n${dnsData(h.fqdn)}`;
  if (h.cloudInstance) {
    x += `        <EC2_INSTANCE_ID>${cdata(h.cloudInstance)}</EC2_INSTANCE_ID>\n`;
  }
  if (h.netbios) x += `        <NETBIOS>${cdata(h.netbios)}</NETBIOS>\n`;
  x += `        <OS>${cdata(h.os)}</OS>\n`;
  if (h.trackingMethod === "QAGENT") x += `        <QG_HOSTID>${cdata(agentId(h))}</QG_HOSTID>\n`;
  if (details === "All") {
    x +=
      `        <LAST_VULN_SCAN_DATETIME>${
        formatDateTime(h.lastScan + h.scanDuration)
      }</LAST_VULN_SCAN_DATETIME>\n` +
      `        <LAST_VM_SCANNED_DATE>${formatDateTime(h.lastScan)}</LAST_VM_SCANNED_DATE>\n` +
      `        <LAST_VM_SCANNED_DURATION>${h.scanDuration}</LAST_VM_SCANNED_DURATION>\n`;
  }
  if (o.showTags || o.v5Elements) x += tagsXml(h, "        ");
  if (o.v5Elements) x += cloudXml(h, "        ");
  return x + `      </HOST>\n`;
}

/** A KnowledgeBase `VULN` element.
 * @param v The entry.
 * @param details `Basic` leaves out DIAGNOSIS, CONSEQUENCE, SOLUTION and CORRELATION; `All` has all.
 * @param unknownElements Also write an element the DTD does not have.
 * @param v5Elements Also write what KnowledgeBase 3.0 and 4.0 add ({@linkcode V5_ELEMENTS}).
 * @returns The element, indented for a VULN_LIST child.
 */
export function kbVulnXml(
  v: KbRecord,
  details: "Basic" | "All",
  unknownElements: boolean,
  v5Elements = false,
): string {
  const p = "        ";
  let x = `      <VULN>\n${p}<QID>${v.qid}</QID>\n${p}<VULN_TYPE>${v.vulnType}</VULN_TYPE>\n` +
    `${p}<SEVERITY_LEVEL>${v.severity}</SEVERITY_LEVEL>\n${p}<TITLE>${cdata(v.title)}</TITLE>\n` +
    `${p}<CATEGORY>${escapeXml(v.category)}</CATEGORY>\n` +
    `${p}<LAST_SERVICE_MODIFICATION_DATETIME>${
      formatDateTime(v.lastModified)
    }</LAST_SERVICE_MODIFICATION_DATETIME>\n` +
    `${p}<PUBLISHED_DATETIME>${formatDateTime(v.published)}</PUBLISHED_DATETIME>\n`;
  if (v.bugtraqs.length) x += refList("BUGTRAQ_LIST", "BUGTRAQ", v.bugtraqs, p);
  x += `${p}<PATCHABLE>${v.patchable ? 1 : 0}</PATCHABLE>\n`;
  if (v5Elements && v.patchable) {
    x += `${p}<PATCH_PUBLISHED_DATE>${
      formatDateTime(v.published + 86400 * (1 + v.qid % 30))
    }</PATCH_PUBLISHED_DATE>\n`;
  }
  if (v.software.length) {
    x += `${p}<SOFTWARE_LIST>\n${
      v.software.map(([product, vendor]) =>
        `${p}  <SOFTWARE>\n${p}    <PRODUCT>${cdata(product)}</PRODUCT>\n${p}    <VENDOR>${
          cdata(vendor)
        }</VENDOR>\n${p}  </SOFTWARE>\n`
      ).join("")
    }${p}</SOFTWARE_LIST>\n`;
  }
  if (v.vendorRefs.length) {
    x += refList("VENDOR_REFERENCE_LIST", "VENDOR_REFERENCE", v.vendorRefs, p);
  }
  if (v.cves.length) x += refList("CVE_LIST", "CVE", v.cves, p);
  if (details === "All") {
    if (v.diagnosis !== null) x += `${p}<DIAGNOSIS>${cdata(v.diagnosis)}</DIAGNOSIS>\n`;
    if (v.consequence !== null) x += `${p}<CONSEQUENCE>${cdata(v.consequence)}</CONSEQUENCE>\n`;
    if (v.solution !== null) x += `${p}<SOLUTION>${cdata(v.solution)}</SOLUTION>\n`;
    if (v.severity >= 4 && v.cves[0]?.id) {
      x +=
        `${p}<CORRELATION>\n${p}  <EXPLOITS>\n${p}    <EXPLT_SRC>\n${p}      <SRC_NAME>${
          cdata("nvd")
        }</SRC_NAME>\n${p}      <EXPLT_LIST>\n${p}        <EXPLT>\n${p}          <REF>${
          cdata(v.cves[0].id)
        }</REF>\n${p}          <DESC>${
          cdata(`${v.title} exploit`)
        }</DESC>\n${p}        </EXPLT>\n` +
        `${p}      </EXPLT_LIST>\n${p}    </EXPLT_SRC>\n${p}  </EXPLOITS>\n${p}</CORRELATION>\n`;
    }
  }
  if (v.cvss) {
    x += `${p}<CVSS>\n${p}  <BASE source="service">${v.cvss[0]}</BASE>\n${p}  <TEMPORAL>${
      v.cvss[1]
    }</TEMPORAL>\n${p}</CVSS>\n`;
  }
  if (v.cvss3) {
    x += `${p}<CVSS_V3>\n${p}  <BASE>${v.cvss3[0]}</BASE>\n${p}  <TEMPORAL>${
      v.cvss3[1]
    }</TEMPORAL>\n${p}</CVSS_V3>\n`;
  }
  x += `${p}<PCI_FLAG>${v.pci ? 1 : 0}</PCI_FLAG>\n`;
  if (v.threatIntel.length) {
    x += `${p}<THREAT_INTELLIGENCE>\n${
      v.threatIntel.map(([id, name]) =>
        `${p}  <THREAT_INTEL id="${id}">${cdata(name)}</THREAT_INTEL>\n`
      ).join("")
    }${p}</THREAT_INTELLIGENCE>\n`;
  }
  x += `${p}<DISCOVERY>\n${p}  <REMOTE>${
    v.category === "Local" ? 0 : 1
  }</REMOTE>\n${p}</DISCOVERY>\n`;
  if (unknownElements) {
    x += `${p}<TECHNOLOGY_LIST>\n${p}  <TECHNOLOGY id="${v.qid % 97}">${
      cdata(v.software[0]?.[0] ?? "generic")
    }</TECHNOLOGY>\n${p}</TECHNOLOGY_LIST>\n`;
  }
  return x + `      </VULN>\n`;
}

function refList(
  list: string,
  item: string,
  refs: readonly { id: string; url: string }[],
  p: string,
): string {
  return `${p}<${list}>\n${
    refs.map((r) =>
      `${p}  <${item}>\n${p}    <ID>${cdata(r.id)}</ID>\n${p}    <URL>${
        cdata(r.url)
      }</URL>\n${p}  </${item}>\n`
    ).join("")
  }${p}</${list}>\n`;
}
