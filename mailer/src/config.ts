// The mailer service's configuration: every variable it reads, validated at start-up.
import {
  checkInternalTls,
  defineConfig,
  internalTlsVars,
  type LoadedConfig,
  logVars,
  vars,
} from "@emailauth/platform";

export const mailerConfig = defineConfig({
  service: "mailer",
  vars: {
    ...logVars,
    ...internalTlsVars,
    MAILER_HOST: vars.str({
      default: "127.0.0.1",
      description: "Address the gRPC and HTTP servers bind to (0.0.0.0 in containers).",
      patternText: "an IP address or host name",
    }),
    MAILER_PORT: vars.port({ default: "50052", description: "gRPC port (0 picks a free port)." }),
    MAILER_HTTP_PORT: vars.port({
      default: "9102",
      description:
        "HTTP port of /healthz, /readyz, /metrics and the development inbox (0 picks a free port).",
    }),
  },
  check: (c) => checkInternalTls(c),
});

export type MailerConfig = LoadedConfig<typeof mailerConfig>;
