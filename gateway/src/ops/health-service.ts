// grpc.health.v1 on the gateway's Connect router, answering from the gateway's readiness
// (its upstreams are SERVING), so gRPC load balancers and `buf curl` see the truth.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Readiness } from "@emailauth/platform";
import { type Health, HealthCheckResponse_ServingStatus } from "@emailauth/proto/health";

export function createHealthService(deps: {
  readiness: Readiness;
  services: readonly string[];
}): ServiceImpl<typeof Health> {
  const known = new Set(["", ...deps.services]);
  const statusOf = (service: string) => {
    if (!known.has(service)) return HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
    return deps.readiness.current().ready
      ? HealthCheckResponse_ServingStatus.SERVING
      : HealthCheckResponse_ServingStatus.NOT_SERVING;
  };
  return {
    check: (req) => ({ status: statusOf(req.service) }),
    list: () => ({
      statuses: Object.fromEntries([...known].map((s) => [s, { status: statusOf(s) }])),
    }),
    async *watch(req, ctx) {
      // Sends the status now and then each time it changes, until the caller goes away.
      let last: number | undefined;
      while (!ctx.signal.aborted) {
        const status = statusOf(req.service);
        if (status !== last) {
          last = status;
          yield { status };
        }
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 1_000);
          ctx.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
        });
      }
    },
  };
}
