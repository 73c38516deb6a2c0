// The gateway's configuration: every variable it reads, validated at start-up.
import {
  checkInternalTls,
  defineConfig,
  internalTlsVars,
  type LoadedConfig,
  logVars,
  vars,
} from "@emailauth/platform";
import { activeKeyOf, readJwksFile } from "./tokens/key-set.ts";

export const gatewayConfig = defineConfig({
  service: "gateway",
  vars: {
    ...logVars,
    ...internalTlsVars,
    GATEWAY_HOST: vars.str({
      default: "127.0.0.1",
      description: "Address the public server binds to (0.0.0.0 in containers).",
      patternText: "an IP address or host name",
    }),
    GATEWAY_PORT: vars.port({
      default: "8080",
      description:
        "The public port: Connect JSON/binary, gRPC and gRPC-Web, /.well-known/jwks.json, /openapi.json, /healthz and /readyz (and /metrics when there is no GATEWAY_OPS_PORT).",
    }),
    GATEWAY_OPS_PORT: vars.optional(
      vars.port({
        production: "9100 when unset",
        description:
          "The operations port: /metrics, /healthz, /readyz, on GATEWAY_HOST. When set (always in production mode: 9100 by default), /metrics is served there only, not on the public port. Unset in development: /metrics is on the public port.",
      }),
    ),
    GATEWAY_TLS_CERT_FILE: vars.optional(
      vars.filePath({
        description: "PEM certificate (chain) for HTTPS on the public port.",
        production: "required unless GATEWAY_ALLOW_PLAINTEXT_HTTP=true",
      }),
    ),
    GATEWAY_TLS_KEY_FILE: vars.optional(
      vars.filePath({
        description: "PEM private key of GATEWAY_TLS_CERT_FILE.",
        production: "required unless GATEWAY_ALLOW_PLAINTEXT_HTTP=true",
      }),
    ),
    GATEWAY_ALLOW_PLAINTEXT_HTTP: vars.bool({
      default: "false",
      description:
        "Serve plain HTTP in production mode, for a gateway behind a TLS-terminating proxy (development mode always allows it).",
    }),
    PERSISTENCE_ADDRESSES: vars.addressList({
      default: "127.0.0.1:50051",
      description: "The persistence replicas (host:port, comma-separated); calls are balanced across them.",
    }),
    MAILER_ADDRESSES: vars.addressList({
      default: "127.0.0.1:50052",
      description: "The mailer replicas (host:port, comma-separated); calls are balanced across them.",
    }),
    UPSTREAM_TIMEOUT: vars.duration({
      default: "3s",
      min: 50,
      max: 60_000,
      description: "Deadline of each call to persistence or mailer.",
    }),
    MAX_REQUEST_BYTES: vars.int({
      default: "16384",
      min: 1024,
      max: 1_048_576,
      description: "Largest request body accepted, in bytes (bigger ones get resource_exhausted).",
    }),
    JWT_ISSUER: vars.url({
      protocols: ["https", "http"],
      devDefault: "http://127.0.0.1:8080",
      description:
        "The `iss` of access tokens: this gateway's public base URL, e.g. https://auth.example.com.",
    }),
    JWT_PRIVATE_JWKS_FILE: vars.optional(
      vars.filePath({
        production: "required",
        description:
          'JSON file {"keys": [...]} of private Ed25519 JWKs with kids, the same for every replica (`npx emailauth-admin keys generate --out jwks.json` makes one). Unset (development only): an ephemeral key made at start-up.',
      }),
    ),
    JWT_ACTIVE_KID: vars.optional(
      vars.str({
        maxLength: 128,
        description: "The kid of the key that signs; the others are only published. Default: the first.",
      }),
    ),
    ACCESS_TOKEN_TTL: vars.duration({
      default: "15m",
      min: 60_000,
      max: 24 * 3_600_000,
      description: "Lifetime of access tokens (revocation takes effect for them when they expire).",
    }),
    API_KEY_CACHE_TTL: vars.duration({
      default: "10s",
      min: 0,
      max: 300_000,
      description:
        "How long a replica remembers what an API key resolves to; a revoked or disabled key stops working within this.",
    }),
    API_KEY_FAILURES_PER_MINUTE: vars.int({
      default: "20",
      min: 1,
      max: 100_000,
      description:
        "Unknown or malformed API keys one source address (an IPv6 /64 counts as one) may present per minute; past that, its requests are refused (resource_exhausted, RATE_LIMITED) without a lookup until the minute ends.",
    }),
    TRUSTED_PROXIES: vars.optional(
      vars.ipRangeList({
        description:
          "Proxies in front of the gateway (addresses or CIDR ranges) whose X-Forwarded-For is believed: the client's address is then the nearest one in it that is not a trusted proxy. Unset: the peer's address, and X-Forwarded-For is ignored.",
      }),
    ),
    APP_REQUESTS_PER_SECOND: vars.int({
      default: "200",
      min: 1,
      max: 1_000_000,
      description: "Requests per second one client app may make to one gateway replica.",
    }),
    UPSTREAM_BATCH_MAX: vars.int({
      default: "128",
      min: 1,
      max: 128,
      description:
        "StartLogin and VerifyLogin calls to persistence and the mailer that arrive together (in one turn of the event loop) go upstream as one batch call of at most this many; a call alone goes as it is, without waiting. 1 turns coalescing off.",
    }),
    MAX_IN_FLIGHT: vars.int({
      default: "1000",
      min: 1,
      max: 1_000_000,
      description:
        "Hard ceiling of public requests one replica serves at once. Below it the limit adapts to what the mesh sustains (ADMISSION_TARGET_LATENCY); requests over the limit are refused at once with resource_exhausted (OVERLOADED) and Retry-After.",
    }),
    ADMISSION_TARGET_LATENCY: vars.duration({
      default: "300ms",
      min: 10,
      max: 30_000,
      description:
        "The latency admitted requests should stay under: a replica admits as many requests at once as complete in this time at the rate it measures (Little's law), and refuses the rest at once. StartLogin and GetLoginStatus are refused from 80% of it, before VerifyLogin, RefreshSession and the revokes.",
    }),
    ADMISSION_MAX_EVENT_LOOP_DELAY: vars.duration({
      default: "50ms",
      min: 5,
      max: 10_000,
      description:
        "Event-loop delay (the mean over the last few 100 ms) past which a replica refuses new StartLogin and GetLoginStatus requests (the others from twice this), so that a saturated gateway stays responsive.",
    }),
    REQUEST_TIMEOUT: vars.duration({
      default: "10s",
      min: 1000,
      max: 120_000,
      description:
        "Time a client has to send a whole request, headers and body, on HTTP/1.1 and HTTP/2 (408, or a reset HTTP/2 stream); the headers (and a TLS handshake) must arrive within the smaller of this and 10 s.",
    }),
    KEEP_ALIVE_TIMEOUT: vars.duration({
      default: "5s",
      min: 100,
      max: 600_000,
      description:
        "HTTP/1.1: a kept-alive connection idle this long between requests is closed. Clients should reuse connections for less than this.",
    }),
    HTTP2_IDLE_TIMEOUT: vars.duration({
      default: "60s",
      min: 1000,
      max: 3_600_000,
      description:
        "HTTP/2: a connection with no open stream this long is closed (GOAWAY), whatever else it sends.",
    }),
    MAX_CONNECTIONS: vars.int({
      default: "10000",
      min: 1,
      max: 1_000_000,
      description:
        "Open connections one replica accepts; one more is answered 503 with Retry-After (HTTP/1.1) or GOAWAY (HTTP/2) and closed.",
    }),
    MAX_CONNECTIONS_PER_ADDRESS: vars.int({
      default: "512",
      min: 1,
      max: 1_000_000,
      description:
        "Open connections from one address (an IPv6 /64 counts once); TRUSTED_PROXIES are exempt. Raise it for a client app that keeps more connections open from one address.",
    }),
  },
  check: (c) => {
    const problems = checkInternalTls(c);
    if (Boolean(c.GATEWAY_TLS_CERT_FILE) !== Boolean(c.GATEWAY_TLS_KEY_FILE)) {
      problems.push("GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE go together: set both or neither");
    } else if (c.mode === "production" && !c.GATEWAY_TLS_CERT_FILE && !c.GATEWAY_ALLOW_PLAINTEXT_HTTP) {
      problems.push(
        "GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE are required in production mode (or set GATEWAY_ALLOW_PLAINTEXT_HTTP=true behind a TLS-terminating proxy)",
      );
    }
    if (c.mode === "production" && !c.JWT_PRIVATE_JWKS_FILE) {
      problems.push(
        "JWT_PRIVATE_JWKS_FILE is required in production mode (every replica must sign with the same keys)",
      );
    }
    // The key file's content, here rather than at start-up, so that it is reported with the rest.
    if (c.JWT_PRIVATE_JWKS_FILE) {
      try {
        activeKeyOf(readJwksFile(c.JWT_PRIVATE_JWKS_FILE), c.JWT_ACTIVE_KID);
      } catch (err) {
        problems.push(`JWT_PRIVATE_JWKS_FILE: ${(err as Error).message}`);
      }
    }
    return problems;
  },
});

export type GatewayConfig = LoadedConfig<typeof gatewayConfig>;
