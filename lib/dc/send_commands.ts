/**
 * Streams a spooled command file to the Defense Center: lines → payloads (MessagePacker) →
 * DcClient, one acknowledged message at a time, with failures logged and counted. A host cut by
 * a dropped connection ends in ScanUpdate (docs/host_input.md, section 5).
 *
 * @module
 */

import { DcRejectedError } from "../errors.ts";
import type { ByteReader } from "../util/bytes.ts";
import type { DcClient, DcLog } from "./dc_client.ts";
import { flushToUpdate, MessagePacker } from "./protocol.ts";

/**
 * Sends every line of `reader` and returns the totals.
 *
 * @throws {DcRejectedError} (exit 6) After the whole file was sent, when the DC rejected any
 * command or a line was too long to send; {@linkcode DcError} (exit 5) when the DC cannot be
 * reached.
 */
export async function sendCommands(
  client: DcClient,
  reader: ByteReader,
  options: { log: DcLog; onProgress?: (totals: DcClient["totals"]) => void },
): Promise<DcClient["totals"]> {
  const { log } = options;
  let dropped = 0;
  const packer = new MessagePacker({
    maxSize: client.maxSize,
    onShortened: (l) =>
      log.debug(`Shortened to fit MAX_SIZE ${client.maxSize}: ${l.slice(0, 120)}...`),
    onDropped: (l) => {
      dropped++;
      log.error(
        `A line longer than MAX_SIZE ${client.maxSize} cannot be shortened and is not sent: ${
          l.slice(0, 120)
        }...`,
      );
    },
  });
  // A host whose lines span payloads must not end in ScanFlush (replace) once the connection
  // dropped after its first part was acknowledged: the DC applied that part as an update when
  // the connection went, and a replace would now drop it. It ends in ScanUpdate instead.
  let dropInsideGroup = false;
  const flush = async () => {
    for (const p of packer.take()) {
      if (!p.continuesGroup) dropInsideGroup = false;
      let bytes = dropInsideGroup ? flushToUpdate(p.bytes) : p.bytes;
      const failures = await client.send(bytes, {
        onReconnect: (payload) => {
          if (!p.continuesGroup) return payload;
          if (!dropInsideGroup) {
            log.warn(
              "The connection dropped inside a host's results: that host ends with ScanUpdate " +
                "(merge) this time, so results Qualys no longer reports stay until the next run",
            );
          }
          dropInsideGroup = true;
          return (bytes = flushToUpdate(payload));
        },
      });
      packer.release(p);
      for (const f of failures) log.error(`Defense Center: ${f}`);
      options.onProgress?.(client.totals);
    }
  };
  const buf = new Uint8Array(1 << 20);
  for (let n = await reader.read(buf); n !== null; n = await reader.read(buf)) {
    packer.push(buf.subarray(0, n));
    await flush();
  }
  packer.finish();
  await flush();
  const t = client.totals;
  if (t.failures > 0 || dropped > 0) {
    throw new DcRejectedError(
      `The Defense Center rejected ${t.failures} command(s)${
        dropped ? ` and ${dropped} line(s) were too long to send` : ""
      } ` +
        `(${t.processed} processed in ${t.messages} messages): see the errors above`,
    );
  }
  return t;
}
