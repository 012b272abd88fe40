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

/**
 * Read access to a glossary, as the encoder uses it: QID → entry. A `Map<number, GlossaryEntry>`
 * is one; so is the packed `GlossaryStore` the report parser fills.
 */
export interface Glossary extends Iterable<[number, GlossaryEntry]> {
  /** Number of QIDs. */
  readonly size: number;
  /** The QID's entry, or undefined. */
  get(qid: number): GlossaryEntry | undefined;
  /** Whether the QID has an entry. */
  has(qid: number): boolean;
}

/** Parsed findings, ready to be encoded into commands. */
export interface FindingSource {
  /** QID → glossary entry. */
  readonly glossary: Glossary;
  /** Calls `onHost` for each host, in input order. The views are reused between calls. */
  forEachHost(onHost: (host: HostFindings) => Promise<void> | void): Promise<void>;
  /** Lets go of the findings and the glossary (and their temp files). Safe to call twice. */
  dispose(): void;
}

export type { HostFindings };
