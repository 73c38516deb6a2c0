// The mailer service's composition root: the only file that reads the environment and listens.
import {
  appError,
  createLogger,
  createMetrics,
  loadConfig,
  loadOrExit,
  runService,
  serverCredentials,
  tlsFilesFrom,
} from "@emailauth/platform";
import { mailerConfig } from "./config.ts";
import { createMailerServer } from "./server.ts";

const config = loadOrExit(() => loadConfig(mailerConfig, process.env));
const logger = createLogger({ service: "mailer", level: config.LOG_LEVEL });

await runService({
  logger,
  async start() {
    const metrics = createMetrics({ service: "mailer" });
    const unimplemented = async () => Promise.reject(appError("UNIMPLEMENTED"));
    const server = createMailerServer({
      logger,
      metrics,
      credentials: serverCredentials(tlsFilesFrom(config)),
      handlers: { queueLoginCodeEmail: unimplemented, getDeliveryStatus: unimplemented },
      checks: {},
    });
    const ports = await server.listen({
      host: config.MAILER_HOST,
      grpcPort: config.MAILER_PORT,
      httpPort: config.MAILER_HTTP_PORT,
    });
    logger.info({ grpcPort: ports.grpcPort, httpPort: ports.httpPort, mode: config.mode }, "listening");
    return { stop: () => server.stop(10_000) };
  },
});
