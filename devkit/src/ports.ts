import { createServer } from "node:net";

/**
 * A TCP port free right now on 127.0.0.1, for programs that cannot bind port 0 themselves
 * (redis-server). Our own servers bind port 0 and report the port instead.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
