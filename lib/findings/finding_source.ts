/**
 * What a parser hands the encoder: the texts of the QIDs (the glossary) and the hosts with their
 * findings, replayed in order once the whole input has parsed cleanly.
 *
 * @module
 */

import type { HostFindings } from "./finding_spool.ts";

/**
 * What the glossary says about one QID. Text is raw: HTML and all, not yet sanitised.
 */
export interface GlossaryEntry {
  /** The QID. */
  qid: number;
  /** TITLE. */
  title: string;
  /** THREAT (ASSET_DATA_REPORT) or DIAGNOSIS (SCAN), HTML included. */
  description: string;
  /** CVE IDs as written. */
  cves: string[];
  /** Bugtraq IDs as written. */
  bugtraqs: string[];
}

/** Parsed findings, ready to be encoded into commands. */
export interface FindingSource {
  /** QID → glossary entry. */
  readonly glossary: ReadonlyMap<number, GlossaryEntry>;
  /** Calls `onHost` for each host, in input order. The views are reused between calls. */
  forEachHost(onHost: (host: HostFindings) => Promise<void> | void): Promise<void>;
  /** Lets go of the findings and the glossary (and their temp files). Safe to call twice. */
  dispose(): void;
}

export type { HostFindings };
