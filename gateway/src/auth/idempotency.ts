// The idempotency of an upstream call that must be safe to repeat (issue, consume, refresh):
// the client app's own `Idempotency-Key` when it sent one (so its retries are safe too), else
// a random key the gateway makes for its own retries to another replica. Never the request id:
// that is a trace id, echoed and logged everywhere, and decides nothing.
//
// The key is bound to the whole public request: its fingerprint (SHA-256 of the message as
// protobuf) goes upstream too, and persistence binds the key to it together with every field
// it sees itself (so the same key with another request is refused, never answered).
import { createHash, randomUUID } from "node:crypto";
import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { IDEMPOTENCY_KEY } from "../edge/context.ts";

export interface UpstreamIdempotency {
  idempotencyKey: string;
  requestFingerprint: Buffer;
  idempotencyKeyGenerated: boolean;
}

export function idempotencyOf<Desc extends DescMessage>(
  ctx: HandlerContext,
  schema: Desc,
  request: MessageShape<Desc>,
): UpstreamIdempotency {
  const given = ctx.values.get(IDEMPOTENCY_KEY);
  return {
    idempotencyKey: given || randomUUID(),
    requestFingerprint: createHash("sha256")
      .update(schema.typeName)
      .update(toBinary(schema, request))
      .digest(),
    idempotencyKeyGenerated: !given,
  };
}
