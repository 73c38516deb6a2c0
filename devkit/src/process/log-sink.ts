// Collects log output (NDJSON) for assertions: as a pino destination in-process, or fed with
// the stdout/stderr of service processes. Tests read the lines as emitted, parsed.
import { Writable } from "node:stream";

export interface LogSink {
  /** A stream to hand to `createLogger({ destination })`. */
  readonly stream: Writable;
  /** Feeds raw output (e.g. a child's stdout). */
  write(chunk: string | Buffer): void;
  /** Every complete line, raw. */
  text(): string;
  /** Every line that parsed as JSON. */
  lines(): Record<string, unknown>[];
  /** Resolves with the first line (already written or future) that matches. */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

/** `onLine` sees every complete line as it arrives (e.g. to echo it). */
export function createLogSink(options: { onLine?: (line: string) => void } = {}): LogSink {
  let partial = "";
  const raw: string[] = [];
  const parsed: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();

  const write = (chunk: string | Buffer) => {
    partial += chunk.toString();
    let newline = partial.indexOf("\n");
    while (newline >= 0) {
      const line = partial.slice(0, newline);
      partial = partial.slice(newline + 1);
      raw.push(line);
      options.onLine?.(line);
      try {
        const value: unknown = JSON.parse(line);
        if (value && typeof value === "object") parsed.push(value as Record<string, unknown>);
      } catch {
        // not JSON (e.g. a stack trace printed by Node itself): kept in text()
      }
      newline = partial.indexOf("\n");
    }
    for (const w of waiters) w();
  };

  return {
    stream: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        write(chunk);
        callback();
      },
    }),
    write,
    text: () => raw.join("\n"),
    lines: () => parsed,
    waitForLine(match, timeoutMs = 15_000) {
      const found = parsed.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = parsed.find(match);
          if (hit) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for a log line; last lines:\n${raw.slice(-15).join("\n")}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
  };
}
