// `buf curl` as a developer runs it against a service, through server reflection.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const buf = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "buf");

export async function bufCurl(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(
      buf,
      ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args],
      {
        timeout: 20_000,
      },
    );
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? "", stderr: e.stderr ?? "", code: e.code ?? -1 };
  }
}

export async function listServices(port: number): Promise<string[]> {
  const { stdout, stderr, code } = await bufCurl(["--list-services", `http://127.0.0.1:${port}`]);
  if (code !== 0) throw new Error(`buf curl --list-services failed (${code}): ${stderr}`);
  return stdout.trim().split("\n").sort();
}
