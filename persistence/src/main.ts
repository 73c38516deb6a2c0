// The persistence service's composition root: the only file that reads the environment and
// listens.
import {
  type AsyncHandlers,
  appError,
  createLogger,
  createMetrics,
  loadConfig,
  loadOrExit,
  runService,
  serverCredentials,
  tlsFilesFrom,
} from "@emailauth/platform";
import { type PersistenceServiceServer, PersistenceServiceService } from "@emailauth/proto/persistence";
import { persistenceConfig } from "./config.ts";
import { createPersistenceServer } from "./server.ts";

const config = loadOrExit(() => loadConfig(persistenceConfig, process.env));
const logger = createLogger({ service: "persistence", level: config.LOG_LEVEL });

await runService({
  logger,
  async start() {
    const metrics = createMetrics({ service: "persistence" });
    const handlers = Object.fromEntries(
      Object.keys(PersistenceServiceService).map((k) => [
        k,
        async () => Promise.reject(appError("UNIMPLEMENTED")),
      ]),
    ) as unknown as AsyncHandlers<PersistenceServiceServer>;
    const server = createPersistenceServer({
      logger,
      metrics,
      credentials: serverCredentials(tlsFilesFrom(config)),
      handlers,
      checks: {},
    });
    const ports = await server.listen({
      host: config.PERSISTENCE_HOST,
      grpcPort: config.PERSISTENCE_PORT,
      httpPort: config.PERSISTENCE_OPS_PORT,
    });
    logger.info({ grpcPort: ports.grpcPort, opsPort: ports.httpPort, mode: config.mode }, "listening");
    return { stop: () => server.stop(10_000) };
  },
});
