// AppError <-> gRPC status. The reason and retry time travel as an ErrorDetail packed in a
// google.rpc.Status in the `grpc-status-details-bin` trailer (the standard rich-error
// channel: grpcurl and `buf curl` print it), so no caller has to parse messages.
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { ErrorDetail } from "@emailauth/proto/common";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { AppError, type PlatformReason, platformReasons, type ReasonEntry, type Reasons } from "./catalog.ts";

const DETAILS_KEY = "grpc-status-details-bin";
const DETAIL_TYPE_URL = "type.googleapis.com/emailauth.common.v1.ErrorDetail";

// google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
// google.protobuf.Any { string type_url = 1; bytes value = 2; }
function encodeStatus(code: number, message: string, detail: Uint8Array): Uint8Array {
  const w = new BinaryWriter();
  w.uint32(8).int32(code);
  w.uint32(18).string(message);
  w.uint32(26).fork().uint32(10).string(DETAIL_TYPE_URL).uint32(18).bytes(detail).join();
  return w.finish();
}

function decodeDetail(bytes: Uint8Array): ErrorDetail | undefined {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field !== 3) {
      r.skip(wireType);
      continue;
    }
    const any = new BinaryReader(r.bytes());
    let typeUrl = "";
    let value: Uint8Array | undefined;
    while (any.pos < any.len) {
      const [f, wt] = any.tag();
      if (f === 1) typeUrl = any.string();
      else if (f === 2) value = any.bytes();
      else any.skip(wt);
    }
    if (typeUrl === DETAIL_TYPE_URL && value) return ErrorDetail.decode(value);
  }
  return undefined;
}

/** What a grpc-js handler passes to its callback for a failed call. */
export interface GrpcErrorPayload {
  code: number;
  details: string;
  metadata: Metadata;
}

export function toGrpcError(err: AppError): GrpcErrorPayload {
  const detail = ErrorDetail.encode({ reason: err.reason, retryAt: err.retryAt }).finish();
  const metadata = new Metadata();
  metadata.set(DETAILS_KEY, Buffer.from(encodeStatus(err.code, err.message, detail)));
  return { code: err.code, details: err.message, metadata };
}

function entryOf(reason: string, reasons: Reasons): ReasonEntry | undefined {
  if (Object.hasOwn(reasons, reason)) return reasons[reason];
  return Object.hasOwn(platformReasons, reason) ? platformReasons[reason as PlatformReason] : undefined;
}

/**
 * Reads the reason of a failed call to `upstream`, whose contract gives `reasons` (platform's
 * are known anyway). Calls that failed without one (the peer is down, the deadline passed, the
 * call was cancelled) get a reason from their status code.
 */
export function fromGrpcError(err: ServiceError, reasons: Reasons, upstream: string): AppError {
  const raw = err.metadata?.get(DETAILS_KEY)[0];
  const detail = raw instanceof Buffer ? decodeDetail(raw) : undefined;
  if (detail && entryOf(detail.reason, reasons)) return fromErrorDetail(detail, reasons, upstream, err);
  const byCode: Partial<Record<number, PlatformReason>> = {
    [status.UNAVAILABLE]: "UPSTREAM_UNAVAILABLE",
    [status.DEADLINE_EXCEEDED]: "DEADLINE_EXCEEDED",
    [status.CANCELLED]: "CANCELED",
    [status.UNIMPLEMENTED]: "UNIMPLEMENTED",
    [status.RESOURCE_EXHAUSTED]: "OVERLOADED",
  };
  const reason = byCode[err.code] ?? "INTERNAL";
  return new AppError(reason, platformReasons[reason], { cause: err, upstream });
}

/**
 * The AppError an ErrorDetail from `upstream` stands for (a failed call, or a batch item's
 * error), with the message its reason has; INTERNAL for a reason its contract does not give.
 */
export function fromErrorDetail(
  detail: ErrorDetail,
  reasons: Reasons,
  upstream: string,
  cause?: unknown,
): AppError {
  const entry = entryOf(detail.reason, reasons);
  if (!entry) return new AppError("INTERNAL", platformReasons.INTERNAL, { cause, upstream });
  return new AppError(detail.reason, entry, {
    ...(detail.retryAt && { retryAt: detail.retryAt }),
    cause,
    upstream,
  });
}
