// `npm run bench`: the mesh's throughput, latency and mail rate, with the method written down.
//
// Method (see bench/README.md for the reasoning):
//  1. Ceilings on this machine, measured in the same run: a bare node:http server answering a
//     small JSON POST, one grpc-js hop (bench/grpc-floor.ts), and redis-benchmark (SET/GET,
//     50 clients). The mesh's figures are also given as fractions of these, which hold on a
//     noisy machine where absolute numbers do not.
//  2. The mesh in a production-like configuration: production mode, a real redis-server with
//     an append-only file, the durable BullMQ mail queue, every secret set, logs at info to
//     files, plaintext on loopback (GRPC_ALLOW_PLAINTEXT, GATEWAY_ALLOW_PLAINTEXT_HTTP). Send
//     limits are raised (one app sending thousands of codes per second is the point here);
//     nothing else is skipped: HMAC, validation, rate-limit accounting, logging all run.
//  3. StartLogin through the public JSON API, a fresh email per request (wrk, 50 connections,
//     a warm-up then the measured run), with the queue's delivery paused (BullMQ pause): the
//     request path, including the durable queue write, without the SMTP work.
//  4. Mail: delivery resumes and the backlog of step 3 drains to the SMTP sink; emails per
//     second end to end (queue -> render -> SMTP -> sink), from the first to the last email.
//  5. VerifyLogin through the public API with the codes the sink received (by email), each
//     code used once: a warm-up, then the measured run.
//  6. StartLogin again with delivery running at the same time, for the mixed figure.
//  7. CPU seconds per process and per request, and peak RSS, per phase. The services run with
//     the Dockerfile's NODE_OPTIONS; their /metrics are saved in the run's folder.
// Results: bench/results/latest.json and latest.md (and a time-stamped copy).

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { cpus, totalmem } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { freePort, spawnService, startRedis } from "@emailauth/devkit";
import { generateSigningJwk } from "@emailauth/gateway/signing-key";
import { createGrpcClient, createLogger, createMetrics, createUpstream } from "@emailauth/platform";
import { createRedisClient } from "@emailauth/platform/redis";
import { CodeAlphabet, PersistenceServiceClient } from "@emailauth/proto/persistence";
import { persistenceReasons } from "@emailauth/proto/reasons";
import { credentials } from "@grpc/grpc-js";
import { Queue } from "bullmq";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const out = join(root, "bench", "results");
const work = join(out, `run-${stamp}`);
mkdirSync(work, { recursive: true });

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** The 1-connection (idle latency) runs. */
const IDLE_SECONDS = 5;
/** BENCH_NO_COALESCING=1: the gateway sends every upstream call alone (UPSTREAM_BATCH_MAX=1), for A/B runs. */
const NO_COALESCING = process.env.BENCH_NO_COALESCING === "1";
// BENCH_MAIL_WORKERS=2: more mailer processes (delivery workers on the same durable queue, as
// replicas would be) join before the mail phase; the gateway keeps calling the first.
const MAIL_WORKERS = Math.max(1, Number(process.env.BENCH_MAIL_WORKERS ?? 1));
/** BENCH_TRACE_RATIO=0.1: tracing on at that sampling ratio, for A/B runs (see below). */
const TRACE_RATIO =
  process.env.BENCH_TRACE_RATIO === undefined ? undefined : Number(process.env.BENCH_TRACE_RATIO);
/** The overload phase: ten times the connections of the other runs. */
const FLOOD_CONNECTIONS = 10 * CONNECTIONS;
const THREADS = 2;
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const TICK = 100; // /proc/<pid>/stat counts CPU time in 1/100 s on Linux

const say = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- processes -----------------------------------------------------------------------------------
interface Proc {
  name: string;
  pid: number;
  ports: Record<string, number>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}
const procs: Proc[] = [];

// BENCH_PROFILE=1: the services run with V8's CPU profiler; profiles land in the run's folder
// when they stop (summarise them with `node bench/profile-summary.ts <file>`).
const PROFILE = process.env.BENCH_PROFILE === "1";

// The services run with the image's Node flags (the Dockerfile's NODE_OPTIONS: heap bounds),
// or BENCH_NODE_FLAGS to compare others.
const NODE_FLAGS =
  process.env.BENCH_NODE_FLAGS ??
  /NODE_OPTIONS="([^"]*)"/.exec(readFileSync(join(root, "Dockerfile"), "utf8"))?.[1] ??
  "";

// "mailer-2" and the like are services too (extra workers).
const isService = (name: string) => /^(persistence|mailer|gateway)(-\d+)?$/.test(name);

/** Runs `entry` (relative to the repository) with devkit's launcher, its output to the run's folder. */
async function startProcess(name: string, entry: string, env: Record<string, string>) {
  const child = await spawnService(entry, {
    name,
    cwd: root,
    ...(PROFILE &&
      isService(name) && { execArgv: ["--cpu-prof", `--cpu-prof-dir=${join(work, "profiles", name)}`] }),
    env: isService(name) ? { ...env, NODE_OPTIONS: NODE_FLAGS } : env,
    // Minutes of log lines at info: to a file, not into this process's memory (nor its CPU).
    logFile: join(work, `${name}.log`),
    timeoutMs: 60_000,
  });
  const proc: Proc = {
    name,
    pid: child.child.pid as number,
    ports: child.ports,
    async stop() {
      await child.stop();
    },
  };
  procs.push(proc);
  return proc;
}

async function startRedisWithAof(): Promise<number> {
  // Durable as in production: an append-only file, flushed every second.
  const redis = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "everysec"] });
  procs.push({ name: "redis", pid: redis.pid, ports: { port: redis.port }, stop: () => redis.stop() });
  return redis.port;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICK; // utime + stime
}
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Math.round(Number(m?.[1] ?? 0) / 1024);
}
function machineCpuSeconds(): number {
  const [, ...f] = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = f.map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICK;
}
function snapshot() {
  return {
    at: performance.now(),
    machine: machineCpuSeconds(),
    procs: Object.fromEntries(procs.map((p) => [p.name, cpuSeconds(p.pid)])),
  };
}
type Snapshot = ReturnType<typeof snapshot>;
/** CPU microseconds per request (or email), per process, between two snapshots. */
function perRequestCpuUs(a: Snapshot, b: Snapshot, requests: number) {
  return Object.fromEntries(
    Object.keys(b.procs).map((k) => [k, round((((b.procs[k] ?? 0) - (a.procs[k] ?? 0)) * 1e6) / requests)]),
  );
}
function cpuBetween(a: Snapshot, b: Snapshot) {
  const seconds = (b.at - a.at) / 1000;
  const per = Object.fromEntries(
    Object.keys(b.procs).map((k) => [k, round(((b.procs[k] ?? 0) - (a.procs[k] ?? 0)) / seconds, 2)]),
  );
  return {
    wallSeconds: round(seconds, 2),
    coresUsed: per,
    machineCoresUsed: round((b.machine - a.machine) / seconds, 2),
  };
}
const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;

// --- load --------------------------------------------------------------------------------------
interface ProbeTally {
  answered: number;
  unanswered: number;
  byStatus: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface WrkResult {
  requests: number;
  durationUs: number;
  errors: number;
  non2xx: number;
  timeouts: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

async function wrk(
  script: string,
  url: string,
  seconds: number,
  env: Record<string, string> = {},
  connections = CONNECTIONS,
  threads = THREADS,
): Promise<WrkResult & { stdout: string }> {
  const { stdout } = await run(
    "wrk",
    [
      "-t",
      String(threads),
      "-c",
      String(connections),
      "-d",
      `${seconds}s`,
      "--timeout",
      "5s",
      "--latency",
      "-s",
      script,
      url,
    ],
    {
      env: { ...process.env, BENCH_DIR: join(root, "bench", "wrk"), BENCH_THREADS: String(threads), ...env },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const line = stdout.split("\n").find((l) => l.startsWith("WRK_RESULT "));
  if (!line) throw new Error(`no result from wrk:\n${stdout}`);
  return { ...(JSON.parse(line.slice("WRK_RESULT ".length)) as WrkResult), stdout };
}
const rps = (r: WrkResult) => round(r.requests / (r.durationUs / 1e6));

async function sinkStats(port: number) {
  return (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as {
    count: number;
    firstAt: number;
    lastAt: number;
  };
}

// --- run ----------------------------------------------------------------------------------------
async function main() {
  if (!existsSync("/usr/bin/wrk")) throw new Error("the benchmark needs wrk (apt-get install wrk)");
  say(
    `benchmark: ${cpus().length} cores (${cpus()[0]?.model}), ${round(totalmem() / 2 ** 30)} GiB, ${CONNECTIONS} connections, ${WARMUP}s warm-up + ${DURATION}s runs, services with NODE_OPTIONS="${NODE_FLAGS}"`,
  );

  // 1. Ceilings.
  const hello = await startProcess("hello", "bench/hello-server.ts", {});
  await wrk(join(root, "bench", "wrk", "hello.lua"), `http://127.0.0.1:${hello.ports.httpPort}/`, WARMUP);
  const helloResult = await wrk(
    join(root, "bench", "wrk", "hello.lua"),
    `http://127.0.0.1:${hello.ports.httpPort}/`,
    DURATION,
  );
  await hello.stop();
  procs.splice(procs.indexOf(hello), 1);
  say(`ceiling: node:http ${rps(helloResult)} req/s`);

  const { stdout: floorOut } = await run(process.execPath, [
    join(root, "bench", "grpc-floor.ts"),
    String(DURATION),
    String(WARMUP),
  ]);
  const grpcFloor = JSON.parse(floorOut) as { callsPerSecond: number; clientCpuUsPerCall: number };
  say(
    `ceiling: one grpc-js hop ${grpcFloor.callsPerSecond} calls/s, ${grpcFloor.clientCpuUsPerCall} µs client CPU per call`,
  );

  const redisPort = await startRedisWithAof();
  const { stdout: rb } = await run("redis-benchmark", [
    "-p",
    String(redisPort),
    "-q",
    "-t",
    "set,get",
    "-n",
    "200000",
    "-c",
    "50",
  ]);
  const redisOps = Object.fromEntries(
    [...rb.matchAll(/^(SET|GET): ([\d.]+) requests per second/gm)].map((m) => [
      m[1]?.toLowerCase(),
      Number(m[2]),
    ]),
  );
  await run("redis-cli", ["-p", String(redisPort), "FLUSHALL"]);
  say(`ceiling: redis-benchmark SET ${redisOps.set}/s, GET ${redisOps.get}/s`);

  // 2. The mesh.
  const sink = await startProcess("smtp-sink", "bench/smtp-sink.ts", {});
  const jwks = join(work, "jwks.json");
  writeFileSync(jwks, JSON.stringify({ keys: [generateSigningJwk("bench")] }));
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  // BENCH_TRACE_RATIO=0.1: every service traces a tenth of the requests (the sampler a
  // production would use) and exports over OTLP/HTTP to a collector that takes and drops them,
  // to measure what tracing costs. Unset: tracing is off, as by default.
  let otel: Record<string, string> = {};
  if (TRACE_RATIO !== undefined) {
    const collector = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end("{}"));
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    collector.unref();
    otel = {
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as { port: number }).port}`,
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: String(TRACE_RATIO),
    };
  }
  const common = { EMAILAUTH_MODE: "production", GRPC_ALLOW_PLAINTEXT: "true", LOG_LEVEL: "info", ...otel };
  const mailerEnv = {
    ...common,
    REDIS_URL: redisUrl,
    MAILER_PORT: "0",
    MAILER_HTTP_PORT: "0",
    SMTP_URL: `smtp://127.0.0.1:${sink.ports.smtpPort}?ignoreTLS=true`,
    MAILER_QUEUE_KEYS: randomBytes(32).toString("base64url"),
    MAILER_FROM: "Sign-in <no-reply@bench.example>",
  };
  const [persistence, mailer] = await Promise.all([
    startProcess("persistence", "persistence/src/main.ts", {
      ...common,
      REDIS_URL: redisUrl,
      PERSISTENCE_PORT: "0",
      PERSISTENCE_OPS_PORT: "0",
      PERSISTENCE_PEPPER: randomBytes(32).toString("base64url"),
      PERSISTENCE_CODE_SECRETS: randomBytes(32).toString("base64url"),
      LIMIT_APP_SENDS_PER_MINUTE: "1000000",
      LIMIT_GLOBAL_SENDS_PER_MINUTE: "100000000",
    }),
    startProcess("mailer", "mailer/src/main.ts", mailerEnv),
  ]);
  const gatewayPort = await freePort();
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const gateway = await startProcess("gateway", "gateway/src/main.ts", {
    ...common,
    GATEWAY_ALLOW_PLAINTEXT_HTTP: "true",
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_OPS_PORT: "0",
    PERSISTENCE_ADDRESSES: `127.0.0.1:${persistence.ports.grpcPort}`,
    MAILER_ADDRESSES: `127.0.0.1:${mailer.ports.grpcPort}`,
    JWT_ISSUER: gatewayUrl,
    JWT_PRIVATE_JWKS_FILE: jwks,
    APP_REQUESTS_PER_SECOND: "1000000",
    // Every simulated user comes from 127.0.0.1: the per-address cap (512) would stand for one
    // abusive address, not for the many people the overload phase plays.
    MAX_CONNECTIONS_PER_ADDRESS: "5000",
    ...(NO_COALESCING && { UPSTREAM_BATCH_MAX: "1" }),
  });
  const client = await createGrpcClient({
    Client: PersistenceServiceClient,
    addresses: [`127.0.0.1:${persistence.ports.grpcPort}`],
    credentials: credentials.createInsecure(),
  });
  const admin = createUpstream(client, {
    service: "persistence",
    reasons: persistenceReasons,
    metrics: createMetrics({ service: "bench", defaultMetrics: false }),
    deadlineMs: 5_000,
  });
  const { apiKey } = await admin.call("createClientApp", {
    settings: {
      displayName: "Bench",
      senderAddress: "",
      codeAlphabet: CodeAlphabet.CODE_ALPHABET_DIGITS,
      codeLength: 6,
      codeTtlSeconds: 600,
      allowedOrigins: [],
      sendsPerMinute: 1_000_000,
      loginMethods: [],
      linkUrl: "",
    },
  });
  client.close();
  const loginEnv = { BENCH_KEY: apiKey };

  // The mail queue, to pause and resume delivery (what an operator's BullMQ tooling does).
  const queueConnection = createRedisClient({
    url: redisUrl,
    logger: createLogger({ service: "bench", level: "silent" }),
    name: "bench",
    forQueue: true,
  });
  const mailQueue = new Queue("login-emails", { connection: queueConnection, prefix: "ea:{mail}" });
  const sinkCount = async () => (await sinkStats(sink.ports.httpPort as number)).count;

  // 3. StartLogin, delivery paused.
  await mailQueue.pause();
  await wrk(join(root, "bench", "wrk", "start-login.lua"), gatewayUrl, WARMUP, {
    ...loginEnv,
    BENCH_RUN: "warm",
  });
  const s0 = snapshot();
  const startResult = await wrk(join(root, "bench", "wrk", "start-login.lua"), gatewayUrl, DURATION, {
    ...loginEnv,
    BENCH_RUN: "measured",
  });
  const s1 = snapshot();
  say(
    `StartLogin (delivery paused): ${rps(startResult)} req/s, p50 ${startResult.p50Ms} ms, p99 ${startResult.p99Ms} ms, errors ${startResult.errors}`,
  );
  // Idle latency: one connection, one request at a time (nothing to coalesce with). Its
  // emails carry "-idle-", for the idle VerifyLogin run below.
  const idleStart = await wrk(
    join(root, "bench", "wrk", "start-login.lua"),
    gatewayUrl,
    IDLE_SECONDS,
    { ...loginEnv, BENCH_RUN: "idle" },
    1,
    1,
  );
  say(
    `StartLogin, 1 connection: p50 ${idleStart.p50Ms} ms, p99 ${idleStart.p99Ms} ms, errors ${idleStart.errors}`,
  );

  // Each service's own metrics (latency per method and per upstream call) into the run's
  // folder, to see where a request waits when no process is saturated.
  const saveMetrics = async (phase: string) => {
    const urls = {
      persistence: `http://127.0.0.1:${persistence.ports.opsPort}/metrics`,
      mailer: `http://127.0.0.1:${mailer.ports.httpPort}/metrics`,
      gateway: `http://127.0.0.1:${gateway.ports.opsPort}/metrics`,
    };
    for (const [name, url] of Object.entries(urls)) {
      writeFileSync(join(work, `metrics-${phase}-${name}.txt`), await (await fetch(url)).text());
    }
  };
  const peakRss = () => Object.fromEntries(procs.map((p) => [p.name, peakRssMb(p.pid)]));
  if (process.env.BENCH_ONLY === "start") {
    // Profiling or sizing one phase.
    say(`peak RSS (MB): ${JSON.stringify(peakRss())}`);
    await saveMetrics("start");
    await mailQueue.close();
    queueConnection.disconnect();
    return;
  }

  // 4. Mail: the backlog drains.
  for (let i = 2; i <= MAIL_WORKERS; i++) await startProcess(`mailer-${i}`, "mailer/src/main.ts", mailerEnv);
  const backlog = await mailQueue.getWaitingCount();
  const before = await sinkCount();
  const m0 = snapshot();
  await mailQueue.resume();
  while ((await sinkCount()) - before < backlog) await sleep(50);
  const m1 = snapshot();
  const stats = await sinkStats(sink.ports.httpPort as number);
  const drainSeconds = (m1.at - m0.at) / 1000;
  const mailRate = round(backlog / drainSeconds);
  say(
    `mail: ${backlog} queued emails delivered in ${round(drainSeconds, 1)} s: ${mailRate} emails/s (${MAIL_WORKERS} mailer process${MAIL_WORKERS > 1 ? "es" : ""})`,
  );
  if (process.env.BENCH_ONLY === "mail") {
    say(`peak RSS (MB): ${JSON.stringify(peakRss())}`);
    say(`CPU during the mail phase (cores): ${JSON.stringify(cpuBetween(m0, m1))}`);
    say(`CPU per email (µs): ${JSON.stringify(perRequestCpuUs(m0, m1, backlog))}`);
    await mailQueue.close();
    queueConnection.disconnect();
    return;
  }

  // 5. VerifyLogin, with the codes the sink received (each used once).
  let codes = (await (await fetch(`http://127.0.0.1:${sink.ports.httpPort}/codes`)).json()) as [
    string,
    string,
  ][];
  const idleCodes = codes.filter(([email]) => email.includes("-idle-"));
  codes = codes.filter(([email]) => !email.includes("-idle-"));
  const warmCount = Math.floor(codes.length / 5);
  const lines = (list: [string, string][]) => `${list.map(([e, c]) => `${e} ${c}`).join("\n")}\n`;
  const warmPairs = join(work, "pairs-warm.txt");
  const pairsFile = join(work, "pairs.txt");
  writeFileSync(warmPairs, lines(codes.slice(0, warmCount)));
  writeFileSync(pairsFile, lines(codes.slice(warmCount)));
  await wrk(join(root, "bench", "wrk", "verify-login.lua"), gatewayUrl, Math.min(WARMUP, 2), {
    ...loginEnv,
    BENCH_PAIRS: warmPairs,
  });
  const v0 = snapshot();
  const verifyResult = await wrk(join(root, "bench", "wrk", "verify-login.lua"), gatewayUrl, DURATION, {
    ...loginEnv,
    BENCH_PAIRS: pairsFile,
  });
  const v1 = snapshot();
  const verifyPairs = codes.length - warmCount;
  say(
    `VerifyLogin: ${rps(verifyResult)} req/s, p50 ${verifyResult.p50Ms} ms, p99 ${verifyResult.p99Ms} ms, errors ${verifyResult.errors} (${verifyPairs} codes available)`,
  );
  const idlePairs = join(work, "pairs-idle.txt");
  writeFileSync(idlePairs, lines(idleCodes));
  const idleVerify = await wrk(
    join(root, "bench", "wrk", "verify-login.lua"),
    gatewayUrl,
    IDLE_SECONDS,
    { ...loginEnv, BENCH_PAIRS: idlePairs },
    1,
    1,
  );
  say(
    `VerifyLogin, 1 connection: p50 ${idleVerify.p50Ms} ms, p99 ${idleVerify.p99Ms} ms, errors ${idleVerify.errors} (${idleCodes.length} codes)`,
  );

  // 6. StartLogin with delivery running.
  const sentBefore = await sinkCount();
  const x0 = snapshot();
  const mixedResult = await wrk(join(root, "bench", "wrk", "start-login.lua"), gatewayUrl, DURATION, {
    ...loginEnv,
    BENCH_RUN: "mixed",
  });
  const x1 = snapshot();
  const sentDuringMixed = (await sinkCount()) - sentBefore;
  say(
    `StartLogin with delivery: ${rps(mixedResult)} req/s, p99 ${mixedResult.p99Ms} ms, errors ${mixedResult.errors}; ${round(sentDuringMixed / ((x1.at - x0.at) / 1000))} emails/s delivered meanwhile`,
  );

  // 7. Slow clients: 200 slowloris clients (slow headers, slow body, slow HTTP/2 streams) while
  // the mixed load runs again; its p99 against the one above.
  const slowRun = run(
    process.execPath,
    [join(root, "bench", "slowloris.ts"), gatewayUrl, apiKey, "200", "200"],
    {
      maxBuffer: 1024 * 1024,
    },
  );
  const slowLoad = await wrk(join(root, "bench", "wrk", "start-login.lua"), gatewayUrl, DURATION, {
    ...loginEnv,
    BENCH_RUN: "slowloris",
  });
  const slow = JSON.parse((await slowRun).stdout) as {
    clients: number;
    closedBy: Record<string, number>;
    lastedMs: { p50: number; max: number };
  };
  say(
    `slowloris: ${slow.clients} slow clients closed (${JSON.stringify(slow.closedBy)}), the longest after ${slow.lastedMs.max} ms; meanwhile StartLogin ${rps(slowLoad)} req/s, p99 ${slowLoad.p99Ms} ms (${round(slowLoad.p99Ms / Math.max(1, mixedResult.p99Ms), 2)}x the same load without them), errors ${slowLoad.errors}`,
  );

  // 8. Overload: wrk on ten times the connections (a closed loop: each connection sends its next
  // StartLogin as soon as it has an answer, so refusals that come fast bring more requests),
  // while a probe opens a new connection every 100 ms for one VerifyLogin and one StartLogin;
  // then the time until StartLogin is served again.
  const gatewayPid = procs.find((p) => p.name === "gateway")?.pid ?? 0;
  const rssBefore = peakRssMb(gatewayPid);
  // The same probe without the flood first: the yardstick for its figures under the flood.
  const idleProbe = JSON.parse(
    (
      await run(process.execPath, [join(root, "bench", "flood-probe.ts"), gatewayUrl, apiKey, "3", ""], {
        maxBuffer: 1024 * 1024,
      })
    ).stdout,
  ) as { verifyLogin: ProbeTally; startLogin: ProbeTally };
  const floodDone = join(work, "flood-done");
  const probeRun = run(
    process.execPath,
    [join(root, "bench", "flood-probe.ts"), gatewayUrl, apiKey, String(DURATION), floodDone],
    { maxBuffer: 1024 * 1024 },
  );
  const f0 = snapshot();
  const floodWrk = await wrk(
    join(root, "bench", "wrk", "flood.lua"),
    gatewayUrl,
    DURATION,
    { ...loginEnv, BENCH_RUN: "flood" },
    FLOOD_CONNECTIONS,
  );
  const f1 = snapshot();
  writeFileSync(floodDone, "");
  const probe = JSON.parse((await probeRun).stdout) as {
    verifyLogin: ProbeTally;
    startLogin: ProbeTally;
    recoveryMs: number;
  };
  const floodLine = floodWrk.stdout.split("\n").find((l) => l.startsWith("FLOOD_RESULT "));
  if (!floodLine) throw new Error(`no flood result from wrk:\n${floodWrk.stdout}`);
  const floodTally = JSON.parse(floodLine.slice("FLOOD_RESULT ".length)) as {
    byStatus: Record<string, number>;
    refusalsWithoutRetryAfter: number;
  };
  const { stdout: _floodStdout, ...floodFigures } = floodWrk;
  const flood = {
    connections: FLOOD_CONNECTIONS,
    ...floodFigures,
    rps: rps(floodWrk),
    servedRps: round((floodTally.byStatus["200"] ?? 0) / (floodWrk.durationUs / 1e6)),
    ...floodTally,
    probe,
    idleProbe: { verifyLogin: idleProbe.verifyLogin, startLogin: idleProbe.startLogin },
  };
  const gatewayRssPeak = peakRssMb(gatewayPid);
  say(
    `overload: ${FLOOD_CONNECTIONS} connections, ${flood.rps} answers/s (${JSON.stringify(flood.byStatus)}, ${flood.refusalsWithoutRetryAfter} refusals without Retry-After, socket errors ${flood.errors - flood.non2xx}), ${flood.servedRps} StartLogin/s served, p99 of all answers ${flood.p99Ms} ms; probe on new connections: VerifyLogin p99 ${probe.verifyLogin.p99Ms} ms (${idleProbe.verifyLogin.p99Ms} ms without the flood) ${JSON.stringify(probe.verifyLogin.byStatus)}, StartLogin p99 ${probe.startLogin.p99Ms} ms ${JSON.stringify(probe.startLogin.byStatus)}, unanswered ${probe.verifyLogin.unanswered + probe.startLogin.unanswered}; served again ${probe.recoveryMs} ms after; gateway peak RSS ${round(rssBefore)} MB before, ${gatewayRssPeak} MB after`,
  );

  await saveMetrics("all");
  await mailQueue.close();
  queueConnection.disconnect();

  // 6. Figures.
  const peak = peakRss();
  const result = {
    date: new Date().toISOString(),
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGiB: round(totalmem() / 2 ** 30),
      node: process.version,
    },
    settings: {
      connections: CONNECTIONS,
      threads: THREADS,
      durationSeconds: DURATION,
      warmupSeconds: WARMUP,
      nodeFlags: NODE_FLAGS,
      coalescing: !NO_COALESCING,
      mailWorkers: MAIL_WORKERS,
    },
    ceilings: {
      nodeHttpRps: rps(helloResult),
      grpcHopCallsPerSecond: grpcFloor.callsPerSecond,
      grpcHopClientCpuUsPerCall: grpcFloor.clientCpuUsPerCall,
      redisSetPerSecond: redisOps.set,
      redisGetPerSecond: redisOps.get,
    },
    startLogin: {
      rps: rps(startResult),
      ...startResult,
      fractionOfNodeHttp: round(rps(startResult) / rps(helloResult), 3),
      cpu: cpuBetween(s0, s1),
      cpuUsPerRequest: perRequestCpuUs(s0, s1, startResult.requests),
    },
    mail: {
      emails: backlog,
      seconds: round(drainSeconds, 2),
      emailsPerSecond: mailRate,
      deliveredInAll: stats.count,
      cpu: cpuBetween(m0, m1),
      cpuUsPerEmail: perRequestCpuUs(m0, m1, backlog),
    },
    startLoginWithDelivery: {
      rps: rps(mixedResult),
      ...mixedResult,
      emailsPerSecondMeanwhile: round(sentDuringMixed / ((x1.at - x0.at) / 1000)),
      cpu: cpuBetween(x0, x1),
    },
    verifyLogin: {
      rps: rps(verifyResult),
      ...verifyResult,
      codesAvailable: verifyPairs,
      fractionOfNodeHttp: round(rps(verifyResult) / rps(helloResult), 3),
      cpu: cpuBetween(v0, v1),
      cpuUsPerRequest: perRequestCpuUs(v0, v1, verifyResult.requests),
    },
    idle: {
      startLogin: {
        p50Ms: idleStart.p50Ms,
        p99Ms: idleStart.p99Ms,
        errors: idleStart.errors,
        rps: rps(idleStart),
      },
      verifyLogin: {
        p50Ms: idleVerify.p50Ms,
        p99Ms: idleVerify.p99Ms,
        errors: idleVerify.errors,
        rps: rps(idleVerify),
      },
    },
    slowloris: {
      ...slow,
      load: { rps: rps(slowLoad), ...slowLoad },
      p99VsWithout: round(slowLoad.p99Ms / Math.max(1, mixedResult.p99Ms), 2),
    },
    overload: { ...flood, gatewayRssBeforeMb: round(rssBefore), cpu: cpuBetween(f0, f1) },
    peakRssMb: peak,
    // The goals of the performance issue, as fractions of the ceiling measured in the same run.
    targets: {
      startLoginVsNodeHttp: { target: 0.06, reached: rps(startResult) / rps(helloResult) >= 0.06 },
      verifyLoginVsNodeHttp: { target: 0.075, reached: rps(verifyResult) / rps(helloResult) >= 0.075 },
      p99Ms: { target: 100, reached: startResult.p99Ms <= 100 && verifyResult.p99Ms <= 100 },
      zeroErrors: { reached: startResult.errors === 0 && verifyResult.errors === 0 },
      idleP50Ms: { target: 3, reached: idleStart.p50Ms <= 3 && idleVerify.p50Ms <= 3 },
      emailsPerSecond: { target: 1500, reached: mailRate >= 1500 },
      peakRssUnder150Mb: {
        target: 150,
        reached: ["gateway", "persistence", "mailer"].every((n) => (peak[n] ?? 0) < 150),
      },
    },
    logs: relative(root, work),
  };
  function markdown(r: typeof result): string {
    const ok = (b: boolean) => (b ? "met" : "**missed**");
    const cores = (c: Record<string, number>) =>
      Object.entries(c)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ");
    return `# Benchmark result

${r.date} · ${r.machine.cores} cores (${r.machine.cpu}) · Node ${r.machine.node} (\`${r.settings.nodeFlags}\`) · ${r.settings.connections} connections, ${r.settings.warmupSeconds} s warm-up + ${r.settings.durationSeconds} s runs (wrk)

| | requests/s | p50 | p95 | p99 | errors | vs. bare node:http |
|---|---|---|---|---|---|---|
| StartLogin | ${r.startLogin.rps} | ${r.startLogin.p50Ms} ms | ${r.startLogin.p95Ms} ms | ${r.startLogin.p99Ms} ms | ${r.startLogin.errors} | ${r.startLogin.fractionOfNodeHttp} |
| VerifyLogin | ${r.verifyLogin.rps} | ${r.verifyLogin.p50Ms} ms | ${r.verifyLogin.p95Ms} ms | ${r.verifyLogin.p99Ms} ms | ${r.verifyLogin.errors} | ${r.verifyLogin.fractionOfNodeHttp} |

One connection (idle latency): StartLogin p50 ${r.idle.startLogin.p50Ms} ms, p99 ${r.idle.startLogin.p99Ms} ms; VerifyLogin p50 ${r.idle.verifyLogin.p50Ms} ms, p99 ${r.idle.verifyLogin.p99Ms} ms. Upstream coalescing: ${r.settings.coalescing ? "on" : "off (UPSTREAM_BATCH_MAX=1)"}.

Ceilings measured in the same run: bare node:http ${r.ceilings.nodeHttpRps} requests/s; one grpc-js hop (health Check, 50 in flight) ${r.ceilings.grpcHopCallsPerSecond} calls/s at ${r.ceilings.grpcHopClientCpuUsPerCall} µs of client CPU per call; redis-benchmark SET ${r.ceilings.redisSetPerSecond}/s, GET ${r.ceilings.redisGetPerSecond}/s.

StartLogin is measured with the queue's delivery paused (the durable queue write included); with delivery running at the same time it reached ${r.startLoginWithDelivery.rps} requests/s (p99 ${r.startLoginWithDelivery.p99Ms} ms, ${r.startLoginWithDelivery.errors} errors) while ${r.startLoginWithDelivery.emailsPerSecondMeanwhile} emails/s were delivered.

Mail: a backlog of ${r.mail.emails} queued emails was delivered to the SMTP sink in ${r.mail.seconds} s: **${r.mail.emailsPerSecond} emails/s** end to end.

CPU (cores busy) — StartLogin: ${cores(r.startLogin.cpu.coresUsed)} (machine ${r.startLogin.cpu.machineCoresUsed}); VerifyLogin: ${cores(r.verifyLogin.cpu.coresUsed)} (machine ${r.verifyLogin.cpu.machineCoresUsed}); mail: ${cores(r.mail.cpu.coresUsed)} (machine ${r.mail.cpu.machineCoresUsed}).

CPU per request (µs) — StartLogin: ${cores(r.startLogin.cpuUsPerRequest)}; VerifyLogin: ${cores(r.verifyLogin.cpuUsPerRequest)}; per email delivered: ${cores(r.mail.cpuUsPerEmail)}.

Peak RSS (MB): ${cores(r.peakRssMb)}.

Slow clients: ${r.slowloris.clients} slowloris clients (slow headers, slow body, slow HTTP/2 stream), all closed (${JSON.stringify(r.slowloris.closedBy)}), the longest after ${r.slowloris.lastedMs.max} ms; the same load meanwhile: ${r.slowloris.load.rps} requests/s, p99 ${r.slowloris.load.p99Ms} ms (${r.slowloris.p99VsWithout}x its p99 without them), ${r.slowloris.load.errors} errors.

Overload: ${r.overload.connections} connections (10x) sending StartLogin for ${r.settings.durationSeconds} s, closed loop: ${r.overload.rps} answers/s (${JSON.stringify(r.overload.byStatus)}), ${r.overload.refusalsWithoutRetryAfter} refusals without Retry-After, ${r.overload.errors - r.overload.non2xx} socket errors or timeouts; ${r.overload.servedRps} StartLogin/s served; every answer p50 ${r.overload.p50Ms} ms, p99 ${r.overload.p99Ms} ms. Meanwhile, on a new connection every 100 ms: VerifyLogin p50 ${r.overload.probe.verifyLogin.p50Ms} ms, p99 ${r.overload.probe.verifyLogin.p99Ms} ms (${JSON.stringify(r.overload.probe.verifyLogin.byStatus)}; without the flood p50 ${r.overload.idleProbe.verifyLogin.p50Ms} ms, p99 ${r.overload.idleProbe.verifyLogin.p99Ms} ms); StartLogin p50 ${r.overload.probe.startLogin.p50Ms} ms, p99 ${r.overload.probe.startLogin.p99Ms} ms (${JSON.stringify(r.overload.probe.startLogin.byStatus)}); unanswered ${r.overload.probe.verifyLogin.unanswered + r.overload.probe.startLogin.unanswered}. Served again ${r.overload.probe.recoveryMs} ms after the flood. Gateway peak RSS ${r.overload.gatewayRssBeforeMb} MB before it, ${r.peakRssMb.gateway} MB after.

| target | |
|---|---|
| StartLogin ≥ 0.06× bare node:http | ${ok(r.targets.startLoginVsNodeHttp.reached)} (${r.startLogin.fractionOfNodeHttp}) |
| VerifyLogin ≥ 0.075× bare node:http | ${ok(r.targets.verifyLoginVsNodeHttp.reached)} (${r.verifyLogin.fractionOfNodeHttp}) |
| p99 ≤ 100 ms at ${r.settings.connections} connections | ${ok(r.targets.p99Ms.reached)} |
| zero errors | ${ok(r.targets.zeroErrors.reached)} |
| 1 connection: p50 ≤ 3 ms | ${ok(r.targets.idleP50Ms.reached)} (StartLogin ${r.idle.startLogin.p50Ms} ms, VerifyLogin ${r.idle.verifyLogin.p50Ms} ms) |
| ≥ 1,500 emails/s | ${ok(r.targets.emailsPerSecond.reached)} |
| peak RSS < 150 MB per service | ${ok(r.targets.peakRssUnder150Mb.reached)} |
`;
  }
  writeFileSync(join(work, "result.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(work, "result.md"), markdown(result));
  if (PROFILE) {
    // The profiler slows the services down: its figures are not results.
    say(
      `\nwritten: ${relative(root, work)}/result.{json,md} and profiles/ (profiled: latest.* left as they were)`,
    );
    return;
  }
  // The A/B run without coalescing is kept beside the main one, not over it.
  const name = NO_COALESCING
    ? "latest-no-coalescing"
    : TRACE_RATIO !== undefined
      ? `latest-tracing-${Math.round(TRACE_RATIO * 100)}`
      : "latest";
  copyFileSync(join(work, "result.json"), join(out, `${name}.json`));
  copyFileSync(join(work, "result.md"), join(out, `${name}.md`));
  say(`\nwritten: bench/results/${name}.json, bench/results/${name}.md (logs in ${relative(root, work)})`);
}

try {
  await main();
} finally {
  // SIGTERM: the services stop gracefully (and write their CPU profiles when profiling), then
  // what they depend on, so that their graceful stop can still reach Redis.
  const stop = (list: Proc[]) => Promise.all(list.map((p) => p.stop()));
  await stop(procs.filter((p) => isService(p.name)));
  await stop(procs.filter((p) => !isService(p.name)));
}
