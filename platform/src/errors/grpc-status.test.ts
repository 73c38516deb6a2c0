import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { AppError, appError, toAppError } from "./catalog.ts";
import { fromGrpcError, toGrpcError } from "./grpc-status.ts";

function asServiceError(payload: ReturnType<typeof toGrpcError>): ServiceError {
  return Object.assign(new Error(payload.details), {
    code: payload.code,
    details: payload.details,
    metadata: payload.metadata,
  });
}

describe("gRPC error mapping", () => {
  it("carries the reason and retry time across the wire", () => {
    const retryAt = new Date("2030-01-01T00:00:30.000Z");
    const wire = toGrpcError(appError("RATE_LIMITED", { retryAt }));
    expect(wire.code).toBe(status.RESOURCE_EXHAUSTED);
    const back = fromGrpcError(asServiceError(wire), {}, "test");
    expect(back.reason).toBe("RATE_LIMITED");
    expect(back.retryAt?.toISOString()).toBe(retryAt.toISOString());
  });

  it("gives transport failures a reason from their status code", () => {
    const err = Object.assign(new Error("14 UNAVAILABLE: No connection established"), {
      code: status.UNAVAILABLE,
      details: "No connection established",
      metadata: new Metadata(),
    });
    expect(fromGrpcError(err, {}, "test").reason).toBe("UPSTREAM_UNAVAILABLE");
  });

  it("turns unexpected errors into INTERNAL and keeps the original only as the cause", () => {
    const original = new Error("ioredis: connection to 10.0.0.3 refused");
    const err = toAppError(original);
    expect(err).toBeInstanceOf(AppError);
    expect(err.reason).toBe("INTERNAL");
    expect(err.message).toBe("Internal error.");
    expect(err.cause).toBe(original);
    expect(toGrpcError(err).details).toBe("Internal error.");
  });
});
