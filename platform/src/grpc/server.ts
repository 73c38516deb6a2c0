// The grpc-js server every internal service runs: its own services, plus `grpc.health.v1`
// (reporting what the service's readiness says, not a constant SERVING) and server
// reflection fed from buf's compiled descriptors, so `buf curl`/grpcurl can list and call
// every method. Graceful shutdown: health flips to NOT_SERVING, new calls are refused,
// in-flight calls finish (up to a grace period), then connections are closed.
import { toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { loadFileDescriptors } from "@emailauth/proto/descriptors";
import {
  Server,
  type ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "../log/logger.ts";

export const HEALTH_SERVICE = "grpc.health.v1.Health";
export const REFLECTION_SERVICE = "grpc.reflection.v1.ServerReflection";

export interface ServiceBinding {
  /** Fully-qualified name, e.g. "grpc.health.v1.Health". */
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface GrpcServerDeps {
  logger: Logger;
  credentials: ServerCredentials;
  services: ServiceBinding[];
  /** Largest request accepted, in bytes. Internal messages are small: keep this tight. */
  maxReceiveBytes?: number;
}

export interface GrpcServer {
  /** Binds and starts; resolves with the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number>;
  /** What `grpc.health.v1` answers for the whole server and each service. */
  setServing(serving: boolean): void;
  /** Stops accepting calls and waits for in-flight ones, at most `graceMs`. */
  shutdown(graceMs: number): Promise<void>;
}

/** Our descriptors in the shape @grpc/reflection reads (a proto-loader package definition). */
export function reflectionPackage() {
  // @grpc/reflection reads `fileDescriptorProtos` (encoded FileDescriptorProto) from a
  // proto-loader package definition; buf's descriptors are given in that shape.
  const fileDescriptorProtos = loadFileDescriptors().map((f) => toBinary(FileDescriptorProtoSchema, f));
  return { all: { fileDescriptorProtos } } as unknown as ConstructorParameters<typeof ReflectionService>[0];
}

export function createGrpcServer(deps: GrpcServerDeps): GrpcServer {
  const server = new Server({
    "grpc.max_receive_message_length": deps.maxReceiveBytes ?? 256 * 1024,
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 10_000,
  });
  const names = deps.services.map((s) => s.name);
  const health = new HealthImplementation(
    Object.fromEntries(["", ...names].map((n) => [n, "NOT_SERVING" as const])),
  );
  health.addToServer(server);
  new ReflectionService(reflectionPackage(), {
    services: [...names, HEALTH_SERVICE, REFLECTION_SERVICE],
  }).addToServer(server);
  for (const s of deps.services) server.addService(s.definition, s.implementation);

  const setServing = (serving: boolean) => {
    for (const n of ["", ...names]) health.setStatus(n, serving ? "SERVING" : "NOT_SERVING");
  };

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.bindAsync(
          `${host.includes(":") ? `[${host}]` : host}:${port}`,
          deps.credentials,
          (err, bound) => (err ? reject(err) : resolve(bound)),
        );
      });
    },
    setServing,
    shutdown(graceMs) {
      setServing(false);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          deps.logger.warn({ graceMs }, "in-flight calls did not finish in time; closing connections");
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
