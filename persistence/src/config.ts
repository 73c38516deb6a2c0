// The persistence service's configuration: every variable it reads, validated at start-up.
import {
  checkInternalTls,
  defineConfig,
  internalTlsVars,
  type LoadedConfig,
  logVars,
  vars,
} from "@emailauth/platform";

export const persistenceConfig = defineConfig({
  service: "persistence",
  vars: {
    ...logVars,
    ...internalTlsVars,
    PERSISTENCE_HOST: vars.str({
      default: "127.0.0.1",
      description: "Address the gRPC and operations servers bind to (0.0.0.0 in containers).",
      patternText: "an IP address or host name",
    }),
    PERSISTENCE_PORT: vars.port({ default: "50051", description: "gRPC port (0 picks a free port)." }),
    PERSISTENCE_OPS_PORT: vars.port({
      default: "9101",
      description: "HTTP port of /healthz, /readyz and /metrics (0 picks a free port).",
    }),
    REDIS_URL: vars.optional(
      vars.url({
        protocols: ["redis", "rediss"],
        description:
          "Redis to store everything in (redis:// or rediss:// for TLS). Unset in development mode: an in-memory store that loses everything on restart.",
      }),
    ),
  },
  check: (c) => [
    ...checkInternalTls(c),
    ...(c.mode === "production" && !c.REDIS_URL
      ? ["REDIS_URL is required in production mode (the in-memory store is not durable)"]
      : []),
  ],
});

export type PersistenceConfig = LoadedConfig<typeof persistenceConfig>;
