// Production mode as an operator runs it: every secret set, HTTPS at the gateway (HTTP/2 and
// HTTP/1.1 chosen by ALPN), mutual TLS between the services, and nothing in plaintext.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createGrpcClient, grpcHealthCheck } from "@emailauth/platform";
import { AuthService } from "@emailauth/proto/auth";
import { PersistenceServiceClient } from "@emailauth/proto/persistence";
import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Certificates, makeCertificates } from "./helpers/certs.ts";
import { type Mesh, startMesh } from "./helpers/mesh.ts";

let certs: Certificates;
let mesh: Mesh;
let app: { appId: string; apiKey: string };

beforeAll(async () => {
  certs = await makeCertificates();
  mesh = await startMesh({ production: certs });
  app = await mesh.createApp();
});
afterAll(async () => {
  await mesh?.stop();
});

/** A Connect JSON call over HTTPS/1.1, trusting the test CA. */
function httpsJson(
  method: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${mesh.gatewayUrl}/emailauth.auth.v1.AuthService/${method}`,
      {
        method: "POST",
        ca: certs.ca,
        headers: { "content-type": "application/json", authorization: `Bearer ${app.apiKey}` },
      },
      (res) => {
        let text = "";
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

describe("production mode", () => {
  it("logs a person in over HTTPS, with mutual TLS between the services", async () => {
    expect(mesh.gatewayUrl).toMatch(/^https:/);
    const email = `tls-${randomUUID().slice(0, 8)}@example.com`;
    const started = await httpsJson("StartLogin", { email });
    expect(started.status).toBe(200);
    const code = await mesh.codeFor(email);
    // The same API over gRPC (HTTP/2 by ALPN) on the same port.
    const auth = createClient(
      AuthService,
      createGrpcTransport({
        baseUrl: mesh.gatewayUrl,
        nodeOptions: { ca: certs.ca },
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${app.apiKey}`);
            return next(req);
          },
        ],
      }),
    );
    const session = await auth.verifyLogin({
      target: { case: "challengeId", value: started.body.challengeId as string },
      code,
    });
    expect(session.user?.email).toBe(email);
  });

  it("serves /metrics on the operations port only, health on both", async () => {
    const get = (url: string) =>
      new Promise<number>((resolve, reject) => {
        request(url, { ca: certs.ca }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on("error", reject)
          .end();
      });
    expect(await get(`${mesh.gatewayUrl}/metrics`)).toBe(404);
    expect(await get(`${mesh.gatewayUrl}/readyz`)).toBe(200);
    const ops = `http://127.0.0.1:${mesh.gateway.ports.opsPort}`;
    const metrics = await fetch(`${ops}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("emailauth_requests_total");
  });

  it("refuses plaintext HTTP on the public port", async () => {
    const plain = mesh.gatewayUrl.replace("https:", "http:");
    await expect(fetch(`${plain}/healthz`)).rejects.toThrow();
  });

  it("refuses internal callers without a certificate from the mesh's CA", async () => {
    const address = `127.0.0.1:${mesh.persistence[0]?.ports.grpcPort}`;
    const probe = async (creds: ChannelCredentials) => {
      const client = await createGrpcClient({
        Client: PersistenceServiceClient,
        addresses: [address],
        credentials: creds,
      });
      try {
        await grpcHealthCheck(client, PersistenceServiceClient.serviceName)(AbortSignal.timeout(3_000));
        return "served";
      } catch {
        return "refused";
      } finally {
        client.close();
      }
    };
    const read = (f: string) => readFileSync(f);
    expect(await probe(credentials.createSsl(certs.ca, read(certs.keyFile), read(certs.certFile)))).toBe(
      "served",
    );
    expect(await probe(credentials.createInsecure())).toBe("refused");
    expect(await probe(credentials.createSsl(certs.ca))).toBe("refused");
    expect(
      await probe(credentials.createSsl(certs.ca, read(certs.strangerKeyFile), read(certs.strangerCertFile))),
    ).toBe("refused");
  });
});
