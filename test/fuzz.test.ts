// The public API fuzzed: more than 10,000 mutated requests to every public method, over the
// Connect protocol (JSON and binary, POST and GET), gRPC (HTTP/2) and gRPC-Web, with valid
// and invalid API keys, mutated headers (content types, encodings, timeouts, idempotency keys,
// request ids) and mutated bodies (bit flips, truncations, insertions, wrong types, huge or
// strange values). No answer may be a 5xx, save the statuses the protocols mandate (documented
// in SECURITY.md): 501 `unimplemented` for an unknown compression, 504 `deadline_exceeded` for
// a caller's own too-short timeout, and 503 with Retry-After when load is shed. Every error
// carries our reason and a request id, no service logs an error, and all stay healthy.
//
// The generator is seeded: FUZZ_SEED=<n> replays a run (the seed is in the failure message).
import { randomUUID } from "node:crypto";
import { connect } from "node:http2";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  GetLoginStatusRequestSchema,
  RefreshSessionRequestSchema,
  RevokeSessionRequestSchema,
  RevokeUserSessionsRequestSchema,
  StartLoginRequestSchema,
  VerifyLoginRequestSchema,
} from "@emailauth/proto/auth";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Mesh, postJson, startMesh } from "./helpers/mesh.ts";

const SERVICE = "emailauth.auth.v1.AuthService";
const TOTAL = 10_500;
const CONCURRENCY = 24;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

let mesh: Mesh;
let apiKey = "";
let live: { challengeId: string; refreshToken: string; sessionId: string; userId: string };

beforeAll(async () => {
  // Limits high enough that most requests reach the handlers instead of a 429 at the door.
  mesh = await startMesh({
    env: {
      gateway: { APP_REQUESTS_PER_SECOND: "1000000", API_KEY_FAILURES_PER_MINUTE: "100000" },
      persistence: {
        LIMIT_APP_SENDS_PER_MINUTE: "1000000",
        LIMIT_GLOBAL_SENDS_PER_MINUTE: "100000000",
        GUESS_BUDGET_APP_PER_HOUR: "1000000",
        GUESS_BUDGET_GLOBAL_PER_HOUR: "10000000",
      },
    },
  });
  apiKey = (await mesh.createApp()).apiKey;
  const email = `fuzz-${randomUUID().slice(0, 8)}@example.com`;
  const auth = { authorization: `Bearer ${apiKey}` };
  const started = await postJson(mesh.gatewayUrl, "StartLogin", { email }, auth);
  const challengeId = started.body.challengeId as string;
  const verified = await postJson(
    mesh.gatewayUrl,
    "VerifyLogin",
    { challengeId, code: await mesh.codeFor(email) },
    auth,
  );
  const v = verified.body as { refreshToken: string; sessionId: string; user: { id: string } };
  live = { challengeId, refreshToken: v.refreshToken, sessionId: v.sessionId, userId: v.user.id };
});

afterAll(async () => {
  await mesh?.stop();
});

/** mulberry32: a small seeded generator, so that a failing run can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T,
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

interface Seed<D extends DescMessage = DescMessage> {
  method: string;
  schema: D;
  message: () => MessageInitShape<D>;
}

const seed = <D extends DescMessage>(method: string, schema: D, message: () => MessageInitShape<D>): Seed =>
  ({ method, schema, message }) as unknown as Seed;

const SEEDS: Seed[] = [
  seed("StartLogin", StartLoginRequestSchema, () => ({
    email: `fz-${randomUUID().slice(0, 6)}@example.com`,
    locale: "es-MX",
    endUserIp: "203.0.113.9",
  })),
  seed("VerifyLogin", VerifyLoginRequestSchema, () => ({
    target: { case: "challengeId" as const, value: live.challengeId },
    code: "123456",
    userAgent: "Firefox/130",
  })),
  seed("VerifyLogin", VerifyLoginRequestSchema, () => ({
    target: { case: "email" as const, value: "fuzz@example.com" },
    code: "12 34-56",
  })),
  seed("RefreshSession", RefreshSessionRequestSchema, () => ({ refreshToken: live.refreshToken })),
  seed("RevokeSession", RevokeSessionRequestSchema, () => ({
    target: { case: "sessionId" as const, value: `ses_${"a".repeat(38)}` },
  })),
  seed("RevokeUserSessions", RevokeUserSessionsRequestSchema, () => ({ userId: `usr_${"a".repeat(38)}` })),
  seed("GetLoginStatus", GetLoginStatusRequestSchema, () => ({ challengeId: live.challengeId })),
];

const STRANGE_STRINGS = [
  "",
  " ",
  "\u0000",
  "\r\nX-Injected: 1",
  "\u0085\u2028\u2029",
  "é".repeat(200),
  "😀".repeat(100),
  "a".repeat(20_000),
  "<script>alert(1)</script>",
  "'; DROP TABLE users; --",
  "%00%0d%0a",
  `chl_${"a".repeat(38)}`,
  `ert_${"a".repeat(64)}`,
  `eak_${"a".repeat(52)}`,
  "\ud800",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style lookup string, on purpose
  "${jndi:ldap://x}",
  "../../../../etc/passwd",
  "a@b.c\r\nBcc: x@y.z",
];

function strangeValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(11)) {
    case 0:
      return rng.pick(STRANGE_STRINGS);
    case 1:
      return rng.pick([0, -1, 1.5, 2 ** 53 + 1, -(2 ** 63), 1e308, Number.NaN]);
    case 2:
      return rng.chance(0.5);
    case 3:
      return null;
    case 4:
      return depth > 3 ? [] : Array.from({ length: rng.int(4) }, () => strangeValue(rng, depth + 1));
    case 5:
      return depth > 3
        ? {}
        : { [rng.pick(["__proto__", "constructor", "code", "x"])]: strangeValue(rng, depth + 1) };
    case 6:
      return "9".repeat(rng.int(40));
    case 7:
      return String.fromCharCode(...Array.from({ length: rng.int(30) }, () => rng.int(0x10000)));
    default:
      return `${rng.pick(["a", "b", "x", "1"])}${rng.pick(STRANGE_STRINGS).slice(0, 64)}`;
  }
}

function mutateBytes(rng: Rng, input: Uint8Array): Uint8Array<ArrayBuffer> {
  const bytes = Array.from(input);
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = rng.int(bytes.length + 1);
    switch (rng.int(6)) {
      case 0:
        if (bytes.length)
          bytes[at % bytes.length] = ((bytes[at % bytes.length] ?? 0) ^ (1 << rng.int(8))) & 255;
        break;
      case 1:
        bytes.splice(at, rng.int(8));
        break;
      case 2:
        bytes.splice(at, 0, ...Array.from({ length: 1 + rng.int(8) }, () => rng.int(256)));
        break;
      case 3:
        bytes.splice(at, 0, ...bytes.slice(at, at + rng.int(16)));
        break;
      case 4:
        bytes.length = Math.min(bytes.length, at);
        break;
      default:
        // A varint that never ends, or a huge length.
        bytes.splice(
          at,
          0,
          ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01].slice(0, 1 + rng.int(10)),
        );
    }
  }
  return Uint8Array.from(bytes);
}

function mutateJson(rng: Rng, value: Record<string, unknown>): string {
  const obj: Record<string, unknown> = { ...value };
  const keys = [
    ...Object.keys(obj),
    "email",
    "code",
    "challengeId",
    "refreshToken",
    "unknownField",
    "sessionId",
  ];
  for (let n = 1 + rng.int(3); n > 0; n--) obj[rng.pick(keys)] = strangeValue(rng);
  const text = JSON.stringify(obj);
  if (rng.chance(0.3)) return new TextDecoder().decode(mutateBytes(rng, new TextEncoder().encode(text)));
  if (rng.chance(0.05)) return "[".repeat(5000);
  return text;
}

const envelope = (flags: number, data: Uint8Array) => {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
};

function headersFor(rng: Rng): Record<string, string> {
  const h: Record<string, string> = {};
  const key = rng.int(10);
  if (key < 6) h.authorization = `Bearer ${apiKey}`;
  else if (key === 6) h.authorization = `Bearer eak_${"z".repeat(rng.pick([1, 52, 150, 4000]))}`;
  else if (key === 7) h.authorization = rng.pick(["", "Bearer", "Basic abc", `Bearer ${apiKey} extra`]);
  if (rng.chance(0.15)) h["idempotency-key"] = rng.pick(["k-1", "x".repeat(200), "bad key!", randomUUID()]);
  if (rng.chance(0.15)) h["x-request-id"] = rng.pick(["trace-1", "x".repeat(500), "bad id é", randomUUID()]);
  if (rng.chance(0.05)) h.origin = rng.pick(["https://evil.example", "null"]);
  return h;
}

interface Outcome {
  protocol: string;
  method: string;
  status: number;
  reason?: string | undefined;
  retryAfter?: string | null;
  requestId?: string | null | undefined;
  detail: string;
}

async function connectRequest(rng: Rng, s: Seed): Promise<Outcome> {
  const headers = headersFor(rng);
  const message = create(s.schema, s.message());
  const binary = rng.chance(0.4);
  let body: Uint8Array | string = binary
    ? toBinary(s.schema, message)
    : JSON.stringify((await import("@bufbuild/protobuf")).toJson(s.schema, message));
  if (binary && rng.chance(0.8)) body = mutateBytes(rng, body as Uint8Array);
  if (!binary && rng.chance(0.8))
    body = mutateJson(rng, JSON.parse(body as string) as Record<string, unknown>);
  headers["content-type"] = rng.chance(0.9)
    ? binary
      ? "application/proto"
      : "application/json"
    : rng.pick([
        "application/json; charset=utf-16",
        "text/plain",
        "application/grpc",
        "",
        "application/proto+json",
      ]);
  if (rng.chance(0.1)) {
    const encoding = rng.pick(["gzip", "br", "identity", "deflate", "gzip, br", "x-unknown"]);
    headers["content-encoding"] = encoding;
    const raw = typeof body === "string" ? Buffer.from(body) : Buffer.from(body);
    if (rng.chance(0.6))
      body = encoding === "br" ? brotliCompressSync(raw) : encoding === "gzip" ? gzipSync(raw) : raw;
  }
  if (rng.chance(0.05)) headers["connect-timeout-ms"] = rng.pick(["0", "1", "-5", "99999999999", "abc"]);
  if (rng.chance(0.05)) headers["connect-protocol-version"] = rng.pick(["1", "2", ""]);
  const get = s.method === "GetLoginStatus" && rng.chance(0.3);
  let url = `${mesh.gatewayUrl}/${SERVICE}/${s.method}`;
  if (get) {
    const msg = typeof body === "string" ? body : Buffer.from(body).toString("base64url");
    url += `?${rng.pick(["", "connect=v1&"])}encoding=${rng.pick(["json", "proto", "xml"])}${
      typeof body === "string" ? "" : "&base64=1"
    }&message=${encodeURIComponent(rng.chance(0.2) ? "%%%" : msg)}${rng.chance(0.1) ? "&compression=gzip" : ""}`;
  }
  const res = await fetch(url, {
    method: get ? "GET" : rng.chance(0.03) ? "PUT" : "POST",
    headers,
    ...(get ? {} : { body }),
  });
  const text = await res.text();
  let reason: string | undefined;
  try {
    const json = JSON.parse(text) as { details?: { type: string; debug?: { reason?: string } }[] };
    reason = json.details?.find((d) => d.type === "emailauth.common.v1.ErrorDetail")?.debug?.reason;
  } catch {
    // not JSON (a 200 in binary, or a plain status)
  }
  return {
    protocol: binary ? "connect+proto" : "connect+json",
    method: s.method,
    status: res.status,
    reason,
    retryAfter: res.headers.get("retry-after"),
    requestId: res.headers.get("x-request-id"),
    detail: text.slice(0, 300),
  };
}

async function grpcWebRequest(rng: Rng, s: Seed): Promise<Outcome> {
  const headers = headersFor(rng);
  headers["content-type"] = rng.pick([
    "application/grpc-web+proto",
    "application/grpc-web",
    "application/grpc-web+json",
  ]);
  let data: Uint8Array<ArrayBuffer> = headers["content-type"].endsWith("json")
    ? new TextEncoder().encode(mutateJson(rng, { x: 1 }))
    : toBinary(s.schema, create(s.schema, s.message()));
  if (rng.chance(0.7)) data = mutateBytes(rng, data);
  let frame = envelope(rng.chance(0.1) ? rng.pick([1, 0x80, 0x7f]) : 0, data);
  if (rng.chance(0.3)) frame = mutateBytes(rng, frame);
  if (rng.chance(0.05)) headers["grpc-timeout"] = rng.pick(["1n", "1m", "99999999999S", "x"]);
  const res = await fetch(`${mesh.gatewayUrl}/${SERVICE}/${s.method}`, {
    method: "POST",
    headers,
    body: frame,
  });
  const bytes = Buffer.from(await res.arrayBuffer()).toString("latin1");
  const status = /grpc-status: ?(\d+)/.exec(bytes)?.[1] ?? res.headers.get("grpc-status") ?? undefined;
  return {
    protocol: "grpc-web",
    method: s.method,
    status: res.status >= 300 ? res.status : Number(status ?? -1),
    reason:
      /grpc-status-details-bin/.test(bytes) || res.headers.get("grpc-status-details-bin")
        ? "present"
        : undefined,
    requestId: res.headers.get("x-request-id"),
    detail: bytes.slice(0, 200),
  };
}

function grpcRequest(rng: Rng, s: Seed, session: ReturnType<typeof connect>): Promise<Outcome> {
  const headers = headersFor(rng);
  let data: Uint8Array<ArrayBuffer> = toBinary(s.schema, create(s.schema, s.message()));
  if (rng.chance(0.7)) data = mutateBytes(rng, data);
  let frame = envelope(rng.chance(0.1) ? 1 : 0, data);
  if (rng.chance(0.3)) frame = mutateBytes(rng, frame);
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": `/${SERVICE}/${s.method}`,
      "content-type": rng.chance(0.9)
        ? "application/grpc+proto"
        : rng.pick(["application/grpc+json", "application/grpc"]),
      te: "trailers",
      ...(rng.chance(0.05) && { "grpc-encoding": rng.pick(["gzip", "snappy"]) }),
      ...(rng.chance(0.05) && { "grpc-timeout": rng.pick(["1n", "10m", "x"]) }),
      ...headers,
    });
    let httpStatus = 0;
    let requestId: string | undefined;
    let fromHeaders: string | undefined;
    stream.on("response", (h) => {
      httpStatus = Number(h[":status"]);
      requestId = h["x-request-id"] as string | undefined;
      fromHeaders = h["grpc-status"] as string | undefined;
    });
    stream.on("trailers", (t) => {
      resolve({
        protocol: "grpc",
        method: s.method,
        status: Number(t["grpc-status"] ?? -1),
        reason: t["grpc-status-details-bin"] ? "present" : undefined,
        requestId,
        detail: String(t["grpc-message"] ?? ""),
      });
    });
    stream.on("end", () =>
      resolve({
        protocol: "grpc",
        method: s.method,
        status: httpStatus === 200 ? Number(fromHeaders ?? -1) : httpStatus,
        requestId,
        detail: `http ${httpStatus}`,
      }),
    );
    stream.on("error", reject);
    stream.resume();
    stream.end(frame);
  });
}

/** What no answer may be. Statuses the protocols mandate are allowed, with our reason. */
function problem(o: Outcome): string | undefined {
  if (o.protocol.startsWith("connect")) {
    if (o.status === 503) return o.retryAfter ? undefined : "503 without Retry-After";
    if (o.status === 501) return o.reason === "UNIMPLEMENTED" ? undefined : "501 without UNIMPLEMENTED";
    if (o.status === 504)
      return o.reason === "DEADLINE_EXCEEDED" ? undefined : "504 without DEADLINE_EXCEEDED";
    if (o.status >= 500) return `HTTP ${o.status}`;
    // Statuses of HTTP itself, before any RPC: unknown path, method, media type, and headers
    // (or URL) too large for Node's parser.
    if (o.status >= 400 && ![404, 405, 415, 431].includes(o.status) && !o.reason)
      return `HTTP ${o.status} without our reason`;
    if (o.status === 431) return undefined;
  } else {
    // gRPC statuses: 2 unknown, 13 internal, 15 data loss are never right; 14 only with a reason.
    if ([2, 13, 15, -1].includes(o.status)) return `gRPC status ${o.status}`;
    if (o.status === 14 && !o.reason) return "gRPC unavailable without details";
    if (o.status > 0 && o.status < 100 && !o.reason) return `gRPC status ${o.status} without details`;
    if (o.status >= 500) return `HTTP ${o.status}`;
  }
  if (!o.requestId) return "no x-request-id";
  return undefined;
}

it(`answers ${TOTAL} mutated requests without a 5xx, a logged error or a lasting harm (seed ${SEED})`, async () => {
  const rng = prng(SEED);
  const session = connect(mesh.gatewayUrl);
  session.on("error", () => undefined);
  const tally = new Map<string, number>();
  const problems: string[] = [];
  let sent = 0;
  const worker = async () => {
    while (sent < TOTAL) {
      sent++;
      const s = rng.pick(SEEDS);
      const which = rng.int(10);
      const outcome =
        which < 6
          ? await connectRequest(rng, s)
          : which < 8
            ? await grpcRequest(rng, s, session)
            : await grpcWebRequest(rng, s);
      const key = `${outcome.protocol} ${outcome.status}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
      const wrong = problem(outcome);
      if (wrong && problems.length < 20) problems.push(`${wrong}: ${JSON.stringify(outcome)}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  session.close();
  console.log(`fuzz seed ${SEED}:`, Object.fromEntries([...tally].sort()));
  expect(problems, `seed ${SEED}`).toEqual([]);
  expect(sent).toBeGreaterThanOrEqual(10_000);

  // Healthy after: nothing logged an error, every service is up and ready, and a login works.
  const errors = mesh
    .allLogs()
    .split("\n")
    .filter((l) => /"level":"(error|fatal)"/.test(l));
  expect(errors.slice(0, 5), `seed ${SEED}`).toEqual([]);
  for (const p of [...mesh.persistence, mesh.mailer, mesh.gateway]) expect(p.child.exitCode).toBeNull();
  expect((await fetch(`${mesh.gatewayUrl}/readyz`)).status).toBe(200);
  const { apiKey: fresh } = await mesh.createApp();
  const email = `after-fuzz-${randomUUID().slice(0, 8)}@example.com`;
  const auth = { authorization: `Bearer ${fresh}` };
  const started = await postJson(mesh.gatewayUrl, "StartLogin", { email }, auth);
  const code = await mesh.codeFor(email);
  const verified = await postJson(
    mesh.gatewayUrl,
    "VerifyLogin",
    { challengeId: started.body.challengeId, code },
    auth,
  );
  expect(verified.status).toBe(200);
}, 180_000);
