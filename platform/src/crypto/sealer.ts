// Sealing secrets that must sit in Redis for a while (a queued email's code, a refresh token
// kept for an idempotent retry) with AES-256-GCM, under keys that never live in Redis. Keys
// rotate: the first seals, every one still opens. `purpose` separates the uses of one secret.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  hkdfSync,
  randomBytes,
} from "node:crypto";

export interface Sealer {
  seal(plain: string): string;
  open(sealed: string): string;
}

export function createSealer(secrets: readonly string[], purpose: string): Sealer {
  if (secrets.length === 0) throw new Error("at least one sealing key is required");
  const keys = secrets.map((s) => {
    const key = Buffer.from(hkdfSync("sha256", s, "emailauth", purpose, 32));
    // A KeyObject made once, not raw bytes converted on every call.
    return {
      id: createHash("sha256").update(key).digest("base64url").slice(0, 8),
      key: createSecretKey(key),
    };
  });
  const current = keys[0] as (typeof keys)[number];
  return {
    // v1.<key id>.<iv>.<ciphertext+tag>, base64url parts
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", current.key, iv);
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `v1.${current.id}.${iv.toString("base64url")}.${body.toString("base64url")}`;
    },
    open(sealed) {
      const [version, id, iv, body] = sealed.split(".");
      const key = keys.find((k) => k.id === id);
      if (version !== "v1" || !key || !iv || !body)
        throw new Error("cannot open the sealed value (unknown key?)");
      const data = Buffer.from(body, "base64url");
      const decipher = createDecipheriv("aes-256-gcm", key.key, Buffer.from(iv, "base64url"));
      decipher.setAuthTag(data.subarray(data.length - 16));
      return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString(
        "utf8",
      );
    },
  };
}
