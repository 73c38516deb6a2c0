// Credentials for internal gRPC: mutual TLS when certificate files are configured, plaintext
// otherwise (the configuration refuses plaintext in production mode unless explicitly allowed).
import { readFileSync } from "node:fs";
import { type ChannelCredentials, credentials, ServerCredentials } from "@grpc/grpc-js";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export function tlsFilesFrom(config: {
  GRPC_TLS_CERT_FILE: string | undefined;
  GRPC_TLS_KEY_FILE: string | undefined;
  GRPC_TLS_CA_FILE: string | undefined;
}): TlsFiles | undefined {
  const { GRPC_TLS_CERT_FILE: certFile, GRPC_TLS_KEY_FILE: keyFile, GRPC_TLS_CA_FILE: caFile } = config;
  return certFile && keyFile && caFile ? { certFile, keyFile, caFile } : undefined;
}

export function serverCredentials(tls: TlsFiles | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    readFileSync(tls.caFile),
    [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }],
    true, // mutual TLS: a caller without a certificate signed by the CA is refused
  );
}

export function channelCredentials(tls: TlsFiles | undefined): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  return credentials.createSsl(
    readFileSync(tls.caFile),
    readFileSync(tls.keyFile),
    readFileSync(tls.certFile),
  );
}
