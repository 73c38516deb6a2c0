// Variables that every service reads under the same names, defined once.
import type { Mode } from "./vars.ts";
import { bool, filePath, oneOf, optional } from "./vars.ts";

export const logVars = {
  LOG_LEVEL: oneOf(["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const, {
    default: "info",
    description: "Minimum level of the JSON log lines written to stdout.",
  }),
};

/**
 * TLS between the services of the mesh. One certificate per service serves both ways: as the
 * server's certificate and as its client certificate when it calls another service; the CA
 * verifies the peer in both directions (mutual TLS).
 */
export const internalTlsVars = {
  GRPC_TLS_CERT_FILE: optional(
    filePath({
      description: "PEM certificate of this service for internal gRPC (mutual TLS).",
      production: "required unless GRPC_ALLOW_PLAINTEXT=true",
    }),
  ),
  GRPC_TLS_KEY_FILE: optional(
    filePath({
      description: "PEM private key of GRPC_TLS_CERT_FILE.",
      production: "required unless GRPC_ALLOW_PLAINTEXT=true",
    }),
  ),
  GRPC_TLS_CA_FILE: optional(
    filePath({
      description: "PEM CA bundle that signs the mesh's certificates (verifies peers).",
      production: "required unless GRPC_ALLOW_PLAINTEXT=true",
    }),
  ),
  GRPC_ALLOW_PLAINTEXT: bool({
    default: "false",
    description:
      "Allow internal gRPC without TLS in production mode (development mode always allows it). Only for a private network you trust.",
  }),
};

interface TlsConfig {
  readonly mode: Mode;
  readonly GRPC_TLS_CERT_FILE: string | undefined;
  readonly GRPC_TLS_KEY_FILE: string | undefined;
  readonly GRPC_TLS_CA_FILE: string | undefined;
  readonly GRPC_ALLOW_PLAINTEXT: boolean;
}

export function checkInternalTls(config: TlsConfig): string[] {
  const files = [config.GRPC_TLS_CERT_FILE, config.GRPC_TLS_KEY_FILE, config.GRPC_TLS_CA_FILE];
  const set = files.filter((f) => f !== undefined).length;
  if (set !== 0 && set !== 3) {
    return ["GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE go together: set all three or none"];
  }
  if (set === 0 && config.mode === "production" && !config.GRPC_ALLOW_PLAINTEXT) {
    return [
      "GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE are required in production mode (or set GRPC_ALLOW_PLAINTEXT=true on a trusted private network)",
    ];
  }
  return [];
}
