// The shape of an idempotency key on the internal contracts (every retryable call of the
// mesh's gRPC services takes one): defined once here, checked by each service that receives
// one. A client app's own Idempotency-Key is a narrower shape (at most 100 characters, checked
// at the public edge) that fits inside this one, so it can be passed on as it is.
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const IDEMPOTENCY_KEY_RULE = "expected 1 to 128 characters of [A-Za-z0-9_.:-]";
