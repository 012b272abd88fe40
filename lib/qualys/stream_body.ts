/**
 * Reading a streamed Qualys answer (a report, a Host List Detection page, a KnowledgeBase answer)
 * straight into a push parser, in one reused buffer, with a time limit on stalls: no data for
 * longer than the client's limit (`-timeout`) cancels the read. A body that is cut, empty, shorter
 * than its Content-Length, stalls, or whose XML ends early is a {@linkcode DownloadCut}: the
 * caller fetches it again (bounded), never keeps a part of it.
 *
 * @module
 */

import { ReportSyntaxError } from "../errors.ts";
import { seconds } from "../util/deadline.ts";
import type { QualysClient, ReportDownload } from "./client.ts";

/** What a download streams into: a push parser, made fresh for every fetch. */
export interface StreamParser<T> {
  /** Takes the next chunk (which the caller reuses afterwards). */
  push(chunk: Uint8Array): void;
  /** Ends the input; returns the result or throws what is wrong with the document. */
  end(): T;
  /** Lets go of what was parsed so far (the fetch failed). */
  abort(): void;
}

/** A download that ended early (cut, truncated, stalled): fetched again, then exit 3. */
export class DownloadCut extends Error {
  override name = "DownloadCut";
}

/**
 * An answer that parsed whole but cannot be right (a `RESPONSE/DATETIME` that is no time): a
 * parser's `end()` throws it, and it is fetched again like a cut one, then exit 3. Its message
 * follows "Qualys's answer (<what>) ".
 */
export class WrongAnswer extends DownloadCut {
  override name = "WrongAnswer";
}

/** Options for {@linkcode readInto}. */
export interface ReadIntoOptions {
  /** What is downloaded, for messages: "report 123", "host detection page 4". */
  what: string;
  /** Called about every MiB with "<what>: 12.0 MB, 3.4 MB/s" (progress on a terminal). */
  onProgress?: ((detail: string) => void) | undefined;
  /** Size of the reused read buffer. @default {262144} */
  bufferSize?: number;
  /**
   * A read buffer to reuse across downloads (many pages, one after another): taken from and
   * given back to this holder (a read takes the buffer over, so it is a new view afterwards).
   */
  reuse?: { buffer: Uint8Array | undefined } | undefined;
  /** Cancels the read (with the signal's reason) when it fires. */
  signal?: AbortSignal | undefined;
}

/**
 * Streams `download`'s body into `parser` and returns what the parser made of it. On any
 * failure the read is cancelled and the parser aborted.
 *
 * @throws {DownloadCut} When the body is cut, empty, truncated or stalls, or the parser finds it wrong
 * ({@linkcode WrongAnswer}).
 * @throws {ReportSyntaxError} When the body is not what the parser expects (not truncation).
 * @throws {QualysApiError} What the parser throws for a Qualys error body.
 */
export async function readInto<T>(
  client: QualysClient,
  download: ReportDownload,
  parser: StreamParser<T>,
  options: ReadIntoOptions,
): Promise<T> {
  const { what } = options;
  let bytes = 0;
  let parsed = false;
  // A BYOB reader filling one reused buffer: the default reader hands over a new buffer per
  // chunk, and the dead ones (tens of MiB between collections) raised the peak RSS.
  const reader = download.body.getReader({ mode: "byob" });
  let buffer = options.reuse?.buffer ?? new Uint8Array(options.bufferSize ?? 256 << 10);
  if (options.reuse) options.reuse.buffer = undefined; // in use
  // A big report may take hours, so its time limit is on stalls: no data for longer than the
  // limit (a watchdog, not a timer per chunk) cancels the read, and the fetch is tried again.
  const stallMs = client.timeoutMs;
  let lastData = Date.now(), stalled = false;
  const watchdog = setInterval(() => {
    if (Date.now() - lastData < stallMs) return;
    stalled = true;
    reader.cancel().catch(() => {});
  }, Math.min(1000, Math.max(10, stallMs / 4)));
  const signal = options.signal;
  const stop = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", stop);
  try {
    let lastShown = 0;
    const started = Date.now();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read(buffer);
      } catch (error) {
        signal?.throwIfAborted();
        if (stalled) throw stall(what, bytes, stallMs);
        const f = client.describeBodyError(error);
        throw new DownloadCut(
          `The download of ${what} was cut after ${bytes} bytes (${f.message})`,
        );
      }
      signal?.throwIfAborted();
      if (stalled) throw stall(what, bytes, stallMs);
      if (chunk.done) break;
      lastData = Date.now();
      const data = chunk.value;
      buffer = new Uint8Array(data.buffer as ArrayBuffer); // the read took it over; it is back
      bytes += data.length;
      parser.push(data);
      if (options.onProgress && bytes - lastShown >= 1 << 20) {
        lastShown = bytes;
        const elapsed = Math.max((Date.now() - started) / 1000, 0.001);
        options.onProgress(
          `${what}: ${(bytes / 1e6).toFixed(1)} MB, ${(bytes / 1e6 / elapsed).toFixed(1)} MB/s`,
        );
      }
    }
    if (bytes === 0) {
      // No Qualys answer is empty: a load balancer or proxy cut it before its first byte.
      throw new DownloadCut(`The answer to ${what} came empty (a cut answer)`);
    }
    if (download.contentLength !== undefined && bytes !== download.contentLength) {
      throw new DownloadCut(
        `The download of ${what} is truncated: ${bytes} of ${download.contentLength} bytes`,
      );
    }
    try {
      const result = parser.end();
      parsed = true;
      return result;
    } catch (error) {
      if (error instanceof ReportSyntaxError && error.truncated) {
        throw new DownloadCut(`The downloaded ${what} is truncated (${error.message})`);
      }
      if (error instanceof WrongAnswer) {
        throw new WrongAnswer(`Qualys's answer (${what}) ${error.message}`);
      }
      throw error;
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    if (!parsed) parser.abort();
    throw error;
  } finally {
    client.noteDownloaded(bytes);
    clearInterval(watchdog);
    signal?.removeEventListener("abort", stop);
    // Given back only when no read holds it (a cancelled read may have detached it).
    if (options.reuse && buffer.byteLength > 0) options.reuse.buffer = buffer;
  }
}

function stall(what: string, bytes: number, ms: number): DownloadCut {
  return new DownloadCut(
    `The download of ${what} stalled: no data for ${seconds(ms)} s (-timeout) after ` +
      `${bytes} bytes`,
  );
}
