#!/usr/bin/env node
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
// emailauth-admin: operate client apps, users and sessions through persistence's gRPC API, and
// make signing keys for the gateway. Run `emailauth-admin help` for the commands.
//
// Exit codes: 0 done; 1 refused by the service (not found, invalid, ...); 2 bad usage;
// 69 persistence unreachable (EX_UNAVAILABLE).
import { generateSigningJwk } from "@emailauth/gateway/signing-key";
import {
  AppError,
  channelCredentials,
  createGrpcClient,
  createMetrics,
  createUpstream,
} from "@emailauth/platform";
import {
  type ClientApp,
  ClientAppSettings,
  CodeAlphabet,
  LoginMethod,
  PersistenceServiceClient,
  type Session,
} from "@emailauth/proto/persistence";
import { persistenceReasons } from "@emailauth/proto/reasons";

const USAGE = `Usage: emailauth-admin [options] <command>

Client apps
  apps create --name <display name> [--sender <address>] [--origin <url>]... [--code-length <n>]
              [--code-ttl <seconds>] [--alphanumeric] [--sends-per-minute <n>]
              [--login-methods code,link] [--link-url <https url>]
                                        register an app; prints its API key once
  apps update <app id> [the options of create] [--digits] [--no-origins]
                                        change the options given, keep the others
  apps list                             list every app
  apps get <app id>
  apps rotate-key <app id> [--grace <seconds>]
                                        new API key; the old one works for the grace period
  apps disable <app id>                 refuse its key and its sessions' refreshes
  apps enable <app id>
  apps delete <app id>
Users
  users find <email>
  users delete <user id>                erase everything about the person
Sessions
  sessions list <user id>
  sessions revoke-all <user id> [--app <app id>]
Gateway signing keys
  keys generate [--kid <kid>] [--out <file>]
                                        a JWKS file with one new Ed25519 key, written to
                                        <file> (mode 0600, never overwritten) or printed
  keys add <jwks file> [--kid <kid>]    add a new key to a JWKS file (published, not yet active)

Options
  --persistence <host:port>   persistence's gRPC address (default $PERSISTENCE_ADDRESS or 127.0.0.1:50051)
  --json                      machine-readable output
  Mutual TLS: set GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE as for the services.

Exit codes: 0 done, 1 refused by the service, 2 bad usage, 69 persistence unreachable.`;

class UsageError extends Error {}
/** A command understood but not done (a file that exists): its reason alone, exit 2. */
class NotDone extends Error {}

const { values: opts, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        persistence: { type: "string" },
        json: { type: "boolean" },
        name: { type: "string" },
        sender: { type: "string" },
        origin: { type: "string", multiple: true },
        "code-length": { type: "string" },
        "code-ttl": { type: "string" },
        alphanumeric: { type: "boolean" },
        digits: { type: "boolean" },
        "no-origins": { type: "boolean" },
        "sends-per-minute": { type: "string" },
        "login-methods": { type: "string" },
        "link-url": { type: "string" },
        grace: { type: "string" },
        app: { type: "string" },
        kid: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
})();

const int = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} takes a whole number`);
  return Number(value);
};

function print(human: string, data: unknown) {
  process.stdout.write(opts.json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
}

const METHOD_FLAGS: Record<string, LoginMethod> = {
  code: LoginMethod.LOGIN_METHOD_CODE,
  link: LoginMethod.LOGIN_METHOD_LINK,
};
const methodFlag = (m: LoginMethod) =>
  Object.keys(METHOD_FLAGS).find((name) => METHOD_FLAGS[name] === m) ?? String(m);

/** The settings the options name, over `base` (the app's current ones for update). */
function settingsFrom(base: ClientAppSettings): ClientAppSettings {
  const methods = opts["login-methods"]?.split(",").map((name) => {
    const method = METHOD_FLAGS[name.trim()];
    if (method === undefined) throw new UsageError(`--login-methods takes code, link or code,link`);
    return method;
  });
  const alphabet = opts.alphanumeric
    ? CodeAlphabet.CODE_ALPHABET_ALPHANUMERIC
    : opts.digits
      ? CodeAlphabet.CODE_ALPHABET_DIGITS
      : base.codeAlphabet;
  // Another alphabet has other lengths: its default, unless a length is given.
  const baseLength = alphabet === base.codeAlphabet ? base.codeLength : 0;
  return {
    ...base,
    ...(opts.name !== undefined && { displayName: opts.name }),
    ...(opts.sender !== undefined && { senderAddress: opts.sender }),
    codeAlphabet: alphabet,
    codeLength: int("code-length", opts["code-length"], baseLength),
    codeTtlSeconds: int("code-ttl", opts["code-ttl"], base.codeTtlSeconds),
    ...(opts["no-origins"] && { allowedOrigins: [] }),
    ...(opts.origin && { allowedOrigins: opts.origin }),
    sendsPerMinute: int("sends-per-minute", opts["sends-per-minute"], base.sendsPerMinute),
    ...(methods && { loginMethods: methods }),
    ...(opts["link-url"] !== undefined && { linkUrl: opts["link-url"] }),
  };
}

const describeApp = (a: ClientApp | undefined) =>
  a
    ? [
        `${a.id}  ${a.settings?.displayName}${a.disabled ? "  (disabled)" : ""}`,
        `  key ${a.keyPrefix}…  code ${a.settings?.codeLength} ${a.settings?.codeAlphabet === CodeAlphabet.CODE_ALPHABET_ALPHANUMERIC ? "alphanumeric" : "digits"}, ${a.settings?.codeTtlSeconds}s`,
        a.settings?.allowedOrigins.length ? `  origins ${a.settings.allowedOrigins.join(", ")}` : "",
        `  login ${a.settings?.loginMethods.map(methodFlag).join(", ") || "code"}${a.settings?.linkUrl ? `  link ${a.settings.linkUrl}` : ""}`,
      ]
        .filter(Boolean)
        .join("\n")
    : "";

const describeSession = (s: Session) =>
  `${s.id}  app ${s.clientAppId}  since ${s.createdAt?.toISOString()}  idle until ${s.idleExpiresAt?.toISOString()}`;

async function main(): Promise<void> {
  const [group, command, arg] = positionals;
  if (opts.help || !group || group === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const need = (what: string) => {
    if (!arg) throw new UsageError(`${group} ${command} needs the ${what}`);
    return arg;
  };

  // Keys need no service.
  if (group === "keys") {
    if (command === "generate") {
      const jwks = { keys: [generateSigningJwk(opts.kid)] };
      const text = `${JSON.stringify(jwks, null, 2)}\n`;
      // --out rather than `> file`: `npm run admin -- keys generate > file` would put npm's own
      // banner lines into the file, and a shell redirect makes it readable by everyone.
      if (opts.out) {
        try {
          writeFileSync(opts.out, text, { mode: 0o600, flag: "wx" });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "EEXIST") {
            throw new NotDone(
              `${opts.out} exists (nothing written); to add a key to a key file: keys add ${opts.out}`,
            );
          }
          if (code === "ENOENT")
            throw new NotDone(`${opts.out}: its folder does not exist (nothing written)`);
          if (code === "EISDIR") throw new NotDone(`${opts.out} is a folder (nothing written)`);
          throw err;
        }
        print(`wrote ${opts.out} (private; one key, kid ${jwks.keys[0]?.kid})`, {
          kid: jwks.keys[0]?.kid,
          file: opts.out,
        });
        return;
      }
      process.stdout.write(text);
      return;
    }
    if (command === "add") {
      const file = need("JWKS file");
      const jwks = JSON.parse(readFileSync(file, "utf8")) as { keys: { kid: string }[] };
      const key = generateSigningJwk(opts.kid);
      if (jwks.keys.some((k) => k.kid === key.kid))
        throw new UsageError(`kid ${key.kid} is already in ${file}`);
      jwks.keys.push(key);
      writeFileSync(file, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
      print(
        `added ${key.kid} to ${file}; it signs once JWT_ACTIVE_KID=${key.kid} (after every replica has it)`,
        {
          kid: key.kid,
        },
      );
      return;
    }
    throw new UsageError(`unknown command: keys ${command ?? ""}`);
  }

  const address = opts.persistence ?? process.env.PERSISTENCE_ADDRESS ?? "127.0.0.1:50051";
  const files = [process.env.GRPC_TLS_CERT_FILE, process.env.GRPC_TLS_KEY_FILE, process.env.GRPC_TLS_CA_FILE];
  const [certFile, keyFile, caFile] = files;
  const client = await createGrpcClient({
    Client: PersistenceServiceClient,
    addresses: [address],
    credentials: channelCredentials(
      certFile && keyFile && caFile ? { certFile, keyFile, caFile } : undefined,
    ),
  });
  const api = createUpstream(client, {
    service: "persistence",
    reasons: persistenceReasons,
    metrics: createMetrics({ service: "admin", defaultMetrics: false }),
    deadlineMs: 3_000,
  });
  try {
    const key = `${group} ${command ?? ""}`;
    switch (key) {
      case "apps create": {
        if (!opts.name) throw new UsageError("apps create needs --name");
        const { clientApp, apiKey } = await api.call("createClientApp", {
          // Every setting at its default (0 and empty mean the service's defaults).
          settings: settingsFrom(
            ClientAppSettings.fromPartial({ codeAlphabet: CodeAlphabet.CODE_ALPHABET_DIGITS }),
          ),
        });
        print(`${describeApp(clientApp)}\n\nAPI key (shown once, store it now):\n${apiKey}`, {
          clientApp,
          apiKey,
        });
        return;
      }
      case "apps update": {
        const clientAppId = need("app id");
        const current = (await api.call("getClientApp", { clientAppId })).clientApp?.settings;
        if (!current) throw new Error("persistence returned no settings");
        const { clientApp } = await api.call("updateClientApp", {
          clientAppId,
          settings: settingsFrom(current),
        });
        print(describeApp(clientApp), clientApp);
        return;
      }
      case "apps list": {
        const all: ClientApp[] = [];
        let pageToken = "";
        do {
          const page = await api.call("listClientApps", { pageSize: 500, pageToken });
          all.push(...page.clientApps);
          pageToken = page.nextPageToken;
        } while (pageToken);
        print(all.length ? all.map(describeApp).join("\n") : "no client apps", all);
        return;
      }
      case "apps get": {
        const { clientApp } = await api.call("getClientApp", { clientAppId: need("app id") });
        print(describeApp(clientApp), clientApp);
        return;
      }
      case "apps rotate-key": {
        const grace = int("grace", opts.grace, 0);
        const { clientApp, apiKey } = await api.call("rotateClientAppKey", {
          clientAppId: need("app id"),
          graceSeconds: grace,
        });
        const old =
          grace > 0 ? `The old key works for ${grace} more seconds.` : "The old key no longer works.";
        print(`New API key for ${clientApp?.id} (shown once):\n${apiKey}\n${old}`, { clientApp, apiKey });
        return;
      }
      case "apps disable":
      case "apps enable": {
        const method = command === "disable" ? "disableClientApp" : "enableClientApp";
        const { clientApp } = await api.call(method, { clientAppId: need("app id") });
        print(describeApp(clientApp), clientApp);
        return;
      }
      case "apps delete": {
        const { deleted } = await api.call("deleteClientApp", { clientAppId: need("app id") });
        print(deleted ? "deleted" : "no such app (nothing to delete)", { deleted });
        return;
      }
      case "users find": {
        const { user } = await api.call("findUserByEmail", { email: need("email address") });
        print(`${user?.id}  ${user?.email}  since ${user?.createdAt?.toISOString()}`, user);
        return;
      }
      case "users delete": {
        const { deleted } = await api.call("deleteUser", { userId: need("user id") });
        print(deleted ? "erased" : "no such user (nothing to erase)", { deleted });
        return;
      }
      case "sessions list": {
        const { sessions } = await api.call("listUserSessions", {
          userId: need("user id"),
          clientAppId: opts.app ?? "",
        });
        print(sessions.length ? sessions.map(describeSession).join("\n") : "no live sessions", sessions);
        return;
      }
      case "sessions revoke-all": {
        const { revokedCount } = await api.call("revokeUserSessions", {
          userId: need("user id"),
          clientAppId: opts.app ?? "",
        });
        print(`revoked ${revokedCount} session(s)`, { revokedCount });
        return;
      }
      default:
        throw new UsageError(`unknown command: ${key.trim()}`);
    }
  } finally {
    client.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    if (err instanceof NotDone) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof AppError) {
      const unreachable = ["UPSTREAM_UNAVAILABLE", "DEADLINE_EXCEEDED"].includes(err.reason);
      const detail = unreachable ? " (is persistence running, and is --persistence right?)" : "";
      // The service's own message says which field is wrong, where it can.
      const wire = (err.cause as { details?: string } | undefined)?.details;
      process.stderr.write(`error: ${err.reason}: ${wire || err.message}${detail}\n`);
      process.exit(unreachable ? 69 : 1);
    }
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
