// The floor of one internal hop: a grpc-js unary call (the health Check, the smallest message)
// from a client process to a server in another process, 50 calls in flight, as the gateway
// makes them. Prints the calls per second and the client's CPU per call, as JSON:
//   node bench/grpc-floor.ts [seconds=10] [warm-up seconds=2]
// Run by bench/run.ts as one of the ceilings: every internal hop costs at least this.
import { fork } from "node:child_process";
import { HealthCheckResponse_ServingStatus, HealthClient, HealthService } from "@emailauth/proto/health-grpc";
import { credentials, Metadata, Server, ServerCredentials, type ServiceError } from "@grpc/grpc-js";

const IN_FLIGHT = 50;

if (process.argv[2] === "--server") {
  const server = new Server();
  server.addService(HealthService, {
    check: (_call: unknown, callback: (err: null, res: unknown) => void) =>
      callback(null, { status: HealthCheckResponse_ServingStatus.SERVING }),
    watch: () => {},
  });
  server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.send?.(port);
  });
} else {
  const seconds = Number(process.argv[2] ?? 10);
  const warmup = Number(process.argv[3] ?? 2);
  const server = fork(import.meta.filename, ["--server"]);
  try {
    const port = await new Promise<number>((resolve) => server.once("message", (m) => resolve(m as number)));
    const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
    const call = () =>
      new Promise<void>((resolve, reject) =>
        client.check(
          { service: "" },
          new Metadata({ waitForReady: true }),
          { deadline: Date.now() + 5_000 },
          (err: ServiceError | null) => (err ? reject(err) : resolve()),
        ),
      );
    const runFor = async (ms: number) => {
      let calls = 0;
      const end = Date.now() + ms;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (Date.now() < end) {
            await call();
            calls++;
          }
        }),
      );
      return calls;
    };
    await runFor(warmup * 1000);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const calls = await runFor(seconds * 1000);
    const cpu = process.cpuUsage(cpu0);
    const wall = (performance.now() - t0) / 1000;
    client.close();
    process.stdout.write(
      `${JSON.stringify({ callsPerSecond: Math.round(calls / wall), clientCpuUsPerCall: Math.round((cpu.user + cpu.system) / calls) })}\n`,
    );
  } finally {
    server.kill();
  }
}
