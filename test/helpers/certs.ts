// A private CA and certificates for 127.0.0.1/localhost, made with openssl, for TLS tests:
// the gateway's HTTPS and the mesh's mutual TLS.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Certificates {
  dir: string;
  caFile: string;
  ca: Buffer;
  /** A certificate signed by the CA, for servers and clients alike. */
  certFile: string;
  keyFile: string;
  /** Signed by another CA: must be refused. */
  strangerCertFile: string;
  strangerKeyFile: string;
}

async function issue(dir: string, name: string, caKey: string, caCert: string) {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n",
  );
  await run("openssl", [
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    key,
    "-out",
    csr,
    "-subj",
    `/CN=${name}`,
  ]);
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    caCert,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-out",
    cert,
    "-days",
    "2",
    "-extfile",
    ext,
  ]);
  return { key, cert };
}

async function makeCa(dir: string, name: string) {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  ]);
  return { key, cert };
}

export async function makeCertificates(): Promise<Certificates> {
  const dir = mkdtempSync(join(tmpdir(), "emailauth-certs-"));
  const [ca, otherCa] = await Promise.all([makeCa(dir, "mesh-ca"), makeCa(dir, "stranger-ca")]);
  const [mesh, stranger] = await Promise.all([
    issue(dir, "mesh", ca.key, ca.cert),
    issue(dir, "stranger", otherCa.key, otherCa.cert),
  ]);
  return {
    dir,
    caFile: ca.cert,
    ca: readFileSync(ca.cert),
    certFile: mesh.cert,
    keyFile: mesh.key,
    strangerCertFile: stranger.cert,
    strangerKeyFile: stranger.key,
  };
}
