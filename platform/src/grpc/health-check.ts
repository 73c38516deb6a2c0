// A readiness check that asks another service's `grpc.health.v1` whether it is SERVING, over
// the same channel as the calls to it (so it sees what those calls would see).
import { HealthCheckResponse_ServingStatus, HealthClient } from "@emailauth/proto/health-grpc";
import { type Client, credentials, Metadata } from "@grpc/grpc-js";
import type { Check } from "../ops/readiness.ts";

export function grpcHealthCheck(client: Client, serviceName: string): Check {
  const health = new HealthClient("unused:0", credentials.createInsecure(), {
    channelOverride: client.getChannel(),
  });
  return (signal) =>
    new Promise((resolve, reject) => {
      const call = health.check(
        { service: serviceName },
        new Metadata(),
        { deadline: Date.now() + 2_000 },
        (err, response) => {
          signal.removeEventListener("abort", cancel);
          if (err) reject(Object.assign(new Error("unavailable"), { name: "Unavailable" }));
          else if (response.status !== HealthCheckResponse_ServingStatus.SERVING)
            reject(Object.assign(new Error("not serving"), { name: "NotServing" }));
          else resolve();
        },
      );
      const cancel = () => call.cancel();
      signal.addEventListener("abort", cancel, { once: true });
    });
}
