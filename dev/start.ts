// `npm start`: the whole mesh on this machine, each service as its own process, plus the demo
// client app. With nothing configured it needs no Redis and no SMTP relay: an in-memory store,
// an in-process mail queue and the development inbox. With REDIS_URL and/or SMTP_URL set, the
// same command uses them. Ctrl+C stops everything gracefully.
//
// Ports (all overridable; 0 picks a free one): gateway 8080, persistence 50051 (operations
// 9101), mailer 50052 (HTTP 9102, development SMTP 2525), demo app 3000 (DEMO_PORT).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, type ServiceProcess, spawnService } from "@emailauth/devkit";
import { createGrpcClient, createMetrics, createUpstream, parseRedisUrl } from "@emailauth/platform";
import {
  type ClientAppSettings,
  CodeAlphabet,
  LoginMethod,
  PersistenceServiceClient,
} from "@emailauth/proto/persistence";
import { persistenceReasons } from "@emailauth/proto/reasons";
import { credentials } from "@grpc/grpc-js";
import { createDemoApp } from "./demo-app.ts";

const root = join(import.meta.dirname, "..");
type ServiceName = "persistence" | "mailer" | "gateway";
const env = process.env;
/** Every port the mesh opens, by its variable, with its default. */
const DEFAULT_PORTS = {
  GATEWAY_PORT: 8080,
  PERSISTENCE_PORT: 50051,
  PERSISTENCE_OPS_PORT: 9101,
  MAILER_PORT: 50052,
  MAILER_HTTP_PORT: 9102,
  MAILER_DEV_SMTP_PORT: 2525,
  DEMO_PORT: 3000,
} as const;
type PortVar = keyof typeof DEFAULT_PORTS;
const port = (name: PortVar) => env[name] ?? String(DEFAULT_PORTS[name]);
const host = "127.0.0.1";

// --- log lines, readable ---------------------------------------------------------------------
const colors: Record<string, string> = { persistence: "\x1b[35m", mailer: "\x1b[36m", gateway: "\x1b[33m" };
const tty = process.stdout.isTTY;
function echo(service: ServiceName, line: string) {
  let text = line;
  try {
    const l = JSON.parse(line) as Record<string, unknown>;
    const { level, msg, time: _t, service: _s, err, ...rest } = l;
    const fields = Object.entries(rest)
      .filter(([, v]) => v !== undefined && typeof v !== "object")
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    const error = err && typeof err === "object" ? ` (${(err as { message?: string }).message ?? ""})` : "";
    text = `${String(level).padEnd(5)} ${msg}${fields ? `  ${fields}` : ""}${error}`;
  } catch {
    // not JSON: print as it is
  }
  const tag = `[${service}]`.padEnd(14);
  process.stdout.write(`${tty ? `${colors[service]}${tag}\x1b[0m` : tag}${text}\n`);
}

// --- services ----------------------------------------------------------------------------------
const children: ServiceProcess[] = [];
async function start(name: ServiceName, extra: Record<string, string>): Promise<ServiceProcess> {
  const passed = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const child = await spawnService(join(root, name, "src", "main.ts"), {
    name,
    cwd: root,
    env: { ...passed, ...extra },
    onLine: (line) => echo(name, line),
    timeoutMs: 60_000,
  });
  children.push(child);
  child.exited.then(({ code, signal }) => {
    if (!stopping) {
      process.stderr.write(`${name} exited (${code ?? signal}); stopping the mesh\n`);
      void stop(1);
    }
  });
  return child;
}

/**
 * A development client app: made once per store (kept in .cache/ when the store is durable),
 * with both login methods, its magic links opening the demo app's /magic page.
 */
async function devClientApp(
  persistencePort: number,
  linkUrl: string,
): Promise<{ appId: string; apiKey: string }> {
  const settings: ClientAppSettings = {
    displayName: "Demo app",
    senderAddress: "",
    codeAlphabet: CodeAlphabet.CODE_ALPHABET_DIGITS,
    codeLength: 6,
    codeTtlSeconds: 600,
    allowedOrigins: [],
    sendsPerMinute: 0,
    loginMethods: [LoginMethod.LOGIN_METHOD_CODE, LoginMethod.LOGIN_METHOD_LINK],
    linkUrl,
  };
  const client = await createGrpcClient({
    Client: PersistenceServiceClient,
    addresses: [`${host}:${persistencePort}`],
    credentials: credentials.createInsecure(),
  });
  const api = createUpstream(client, {
    service: "persistence",
    reasons: persistenceReasons,
    metrics: createMetrics({ service: "dev", defaultMetrics: false }),
    deadlineMs: 5_000,
  });
  const saved = join(root, ".cache", "dev-client-app.json");
  try {
    if (env.REDIS_URL) {
      const known = JSON.parse(readFileSync(saved, "utf8")) as { appId: string; apiKey: string };
      await api.call("authenticateClientApp", { apiKey: known.apiKey });
      // The demo app's port may differ from the last run's.
      await api.call("updateClientApp", { clientAppId: known.appId, settings });
      return known;
    }
  } catch {
    // none saved, or not valid for this store: make a new one
  }
  const created = await api.call("createClientApp", { settings });
  client.close();
  const app = { appId: created.clientApp?.id ?? "", apiKey: created.apiKey };
  if (env.REDIS_URL) {
    mkdirSync(join(root, ".cache"), { recursive: true });
    writeFileSync(saved, JSON.stringify(app), { mode: 0o600 });
  }
  return app;
}

let stopping = false;
let demo: ReturnType<typeof createDemoApp> | undefined;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  await demo?.close();
  // The gateway first (no new requests), then the services it calls.
  const order: ServiceName[] = ["gateway", "mailer", "persistence"];
  for (const name of order) await Promise.all(children.filter((c) => c.name === name).map((c) => c.stop()));
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

// --- go ----------------------------------------------------------------------------------------
async function main() {
  const [persistence, mailer] = await Promise.all([
    start("persistence", {
      PERSISTENCE_PORT: port("PERSISTENCE_PORT"),
      PERSISTENCE_OPS_PORT: port("PERSISTENCE_OPS_PORT"),
    }),
    start("mailer", {
      MAILER_PORT: port("MAILER_PORT"),
      MAILER_HTTP_PORT: port("MAILER_HTTP_PORT"),
      MAILER_DEV_SMTP_PORT: port("MAILER_DEV_SMTP_PORT"),
    }),
  ]);
  // "0" picks a free port here (the runner must know it to print it); anything else goes to the
  // gateway as given, which refuses what is not a port.
  const gatewayPortVar = port("GATEWAY_PORT");
  const gatewayPort = gatewayPortVar === "0" ? await freePort() : gatewayPortVar;
  const gatewayUrl = `http://${host}:${gatewayPort}`;
  await start("gateway", {
    GATEWAY_PORT: String(gatewayPort),
    PERSISTENCE_ADDRESSES: `${host}:${persistence.ports.grpcPort}`,
    MAILER_ADDRESSES: `${host}:${mailer.ports.grpcPort}`,
    JWT_ISSUER: env.JWT_ISSUER ?? gatewayUrl,
  });
  // Known before the demo app listens: its magic-link page is in the client app's settings.
  const demoPortVar = port("DEMO_PORT");
  const demoPortWanted = demoPortVar === "0" ? await freePort() : Number(demoPortVar);
  const app = await devClientApp(
    persistence.ports.grpcPort as number,
    `http://${host}:${demoPortWanted}/magic`,
  );
  const inboxUrl = `http://${host}:${mailer.ports.httpPort}/inbox`;
  demo = createDemoApp({
    gatewayUrl,
    apiKey: app.apiKey,
    appId: app.appId,
    issuer: env.JWT_ISSUER ?? gatewayUrl,
    inboxUrl,
  });
  const demoPort = await demo.listen(host, demoPortWanted);

  const store = env.REDIS_URL
    ? `Redis (${parseRedisUrl(env.REDIS_URL)
        .nodes.map((n) => `${n.host}:${n.port}`)
        .join(", ")})`
    : "in memory";
  const mail = env.SMTP_URL ? "sent through SMTP_URL" : `caught by the development inbox: ${inboxUrl}`;
  const lines = [
    "",
    "emailauth is running",
    "",
    `  Demo client app       http://${host}:${demoPort}`,
    env.SMTP_URL ? "" : `  Development inbox     ${inboxUrl}`,
    `  Gateway (public API)  ${gatewayUrl}`,
    `  Persistence (gRPC)    ${host}:${persistence.ports.grpcPort}   operations: http://${host}:${persistence.ports.opsPort}/metrics`,
    `  Mailer (gRPC)         ${host}:${mailer.ports.grpcPort}   operations: http://${host}:${mailer.ports.httpPort}/metrics`,
    "",
    `  Development client app ${app.appId}, API key:`,
    `    ${app.apiKey}`,
    "  Try it with curl:",
    `    curl -H 'authorization: Bearer ${app.apiKey}' -H 'content-type: application/json' \\`,
    `      -d '{"email":"you@example.com"}' ${gatewayUrl}/emailauth.auth.v1.AuthService/StartLogin`,
    "",
    `  Store: ${store}. Emails: ${mail}.`,
    env.REDIS_URL
      ? ""
      : "  WARNING: NOTHING IS DURABLE. Users, sessions, client apps and queued emails are lost when you stop.",
    "  Stop with Ctrl+C.",
    "",
  ].filter((l, i, all) => l !== "" || all[i - 1] !== "");
  process.stdout.write(`${lines.join("\n")}\n`);
}

try {
  await main();
} catch (err) {
  // A service that cannot start has said why in its own lines (echoed above). Everything
  // started is stopped: nothing is left holding a port.
  const text = err instanceof Error ? err.message : String(err);
  const message = (text.split("\n")[0] ?? "").replace(/:\s*$/, "");
  process.stderr.write(`\nThe mesh could not start: ${message}.\n`);
  const busy = /(?:EADDRINUSE|address already in use)[^\n]*?:(\d+)/i.exec(text);
  if (busy) {
    // Name the variable that asked for that port.
    const names = (Object.keys(DEFAULT_PORTS) as PortVar[]).filter((name) => port(name) === busy[1]);
    const which = names.length > 0 ? names.join(" or ") : "its variable";
    process.stderr.write(
      `Port ${busy[1]} is in use: stop what holds it, or set ${which} to another port (0 picks a free one).\n`,
    );
  }
  await stop(1);
}
