// OpenTelemetry across the mesh, exported over OTLP/HTTP (JSON) to a collector played here by
// a small HTTP server: one StartLogin, sent with the client app's own `traceparent`, is one
// trace holding the gateway's, persistence's (with its Redis calls) and the mailer's spans;
// the delivery, done later by the queue's worker, is a trace of its own linked to that request,
// with the SMTP call inside. No span attribute carries an email, a code, a key or a token.
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { waitFor } from "@emailauth/devkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Mesh, postJson, startMesh } from "./helpers/mesh.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  links?: { traceId: string; spanId: string }[];
  attributes?: { key: string; value: Record<string, unknown> }[];
  service: string;
}

const spans: OtlpSpan[] = [];
let collector: Server;
let mesh: Mesh;

beforeAll(async () => {
  collector = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      const doc = JSON.parse(body) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { spans: Omit<OtlpSpan, "service">[] }[];
        }[];
      };
      for (const rs of doc.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue ?? "";
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, service });
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  collector.listen(0, "127.0.0.1");
  await once(collector, "listening");
  const otel = {
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    OTEL_BSP_SCHEDULE_DELAY: "50",
  };
  mesh = await startMesh({ env: { gateway: otel, persistence: otel, mailer: otel } });
});
afterAll(async () => {
  await mesh?.stop();
  collector?.close();
});

it("one StartLogin is one trace across the three services; its delivery is linked to it", async () => {
  const { apiKey } = await mesh.createApp();
  const email = `traced-${randomUUID().slice(0, 8)}@example.com`;
  const traceId = randomBytes(16).toString("hex");
  const res = await postJson(
    mesh.gatewayUrl,
    "StartLogin",
    { email },
    { authorization: `Bearer ${apiKey}`, traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` },
  );
  expect(res.status).toBe(200);
  const code = await mesh.codeFor(email);

  const inTrace = () => spans.filter((s) => s.traceId === traceId);
  const deliveries = () =>
    spans.filter((s) => s.name === "mailer deliver" && s.links?.some((l) => l.traceId === traceId));
  await waitFor("the request's spans and its delivery's", () => {
    const services = new Set(inTrace().map((s) => s.service));
    return services.size === 3 && deliveries().length > 0 && spans.some((s) => s.name === "smtp send");
  }).catch((err: Error) => {
    const seen = spans.map(
      (s) => `${s.service} ${s.name} ${s.traceId === traceId ? "IN" : s.traceId.slice(0, 6)}`,
    );
    throw new Error(`${err.message}; spans: ${JSON.stringify(seen)}`);
  });

  const trace = inTrace();
  const names = (service: string) => trace.filter((s) => s.service === service).map((s) => s.name);
  expect(names("emailauth-gateway")).toEqual(
    expect.arrayContaining([
      "emailauth.auth.v1.AuthService/StartLogin",
      expect.stringMatching(/^persistence\//),
    ]),
  );
  expect(names("emailauth-gateway")).toEqual(expect.arrayContaining([expect.stringMatching(/^mailer\//)]));
  expect(names("emailauth-persistence")).toEqual(
    expect.arrayContaining([expect.stringMatching(/^IssueLoginCodes?$/), expect.stringMatching(/^redis /)]),
  );
  expect(names("emailauth-mailer")).toEqual(
    expect.arrayContaining([expect.stringMatching(/^QueueLoginCodeEmails?$/)]),
  );
  // Every span of the request hangs from the one above it, up to the client app's.
  const ids = new Set(trace.map((s) => s.spanId));
  const roots = trace.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
  expect(roots.map((s) => s.name)).toEqual(["emailauth.auth.v1.AuthService/StartLogin"]);

  const [delivery] = deliveries();
  expect(delivery?.service).toBe("emailauth-mailer");
  expect(delivery?.traceId).not.toBe(traceId);
  const smtp = spans.find((s) => s.name === "smtp send" && s.traceId === delivery?.traceId);
  expect(smtp?.parentSpanId).toBe(delivery?.spanId);

  const attributes = JSON.stringify(spans.map((s) => s.attributes ?? []));
  for (const secret of [email, code, apiKey]) expect(attributes).not.toContain(secret);
  expect(attributes).not.toMatch(/@example\.com|eak_|ert_|eyJ/);
});
