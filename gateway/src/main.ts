// The gateway's composition root: the only file that reads the environment and listens.
import { Code, ConnectError } from "@connectrpc/connect";
import {
  createLogger,
  createMetrics,
  loadConfig,
  loadOrExit,
  runService,
  tlsFilesFrom,
} from "@emailauth/platform";
import { gatewayConfig } from "./config.ts";
import { createGatewayServer } from "./server.ts";
import { createUpstreams } from "./upstreams.ts";

const config = loadOrExit(() => loadConfig(gatewayConfig, process.env));
const logger = createLogger({ service: "gateway", level: config.LOG_LEVEL });

await runService({
  logger,
  async start() {
    const metrics = createMetrics({ service: "gateway" });
    const upstreams = await createUpstreams({
      persistenceAddresses: config.PERSISTENCE_ADDRESSES,
      mailerAddresses: config.MAILER_ADDRESSES,
      tls: tlsFilesFrom(config),
      deadlineMs: config.UPSTREAM_TIMEOUT,
      metrics,
    });
    const unimplemented = () => {
      throw new ConnectError("Not implemented.", Code.Unimplemented);
    };
    const server = createGatewayServer({
      logger,
      metrics,
      auth: {
        startLogin: unimplemented,
        verifyLogin: unimplemented,
        refreshSession: unimplemented,
        revokeSession: unimplemented,
        revokeUserSessions: unimplemented,
        getLoginStatus: unimplemented,
      },
      checks: upstreams.checks,
      maxRequestBytes: config.MAX_REQUEST_BYTES,
      requestTimeoutMs: config.REQUEST_TIMEOUT,
      ...(config.GATEWAY_TLS_CERT_FILE &&
        config.GATEWAY_TLS_KEY_FILE && {
          tls: { certFile: config.GATEWAY_TLS_CERT_FILE, keyFile: config.GATEWAY_TLS_KEY_FILE },
        }),
    });
    const port = await server.listen(config.GATEWAY_HOST, config.GATEWAY_PORT);
    logger.info(
      { httpPort: port, mode: config.mode, tls: Boolean(config.GATEWAY_TLS_CERT_FILE) },
      "listening",
    );
    return {
      async stop() {
        await server.stop(10_000);
        upstreams.close();
      },
    };
  },
});
