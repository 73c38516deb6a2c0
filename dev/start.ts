// `npm start`: the whole mesh on one machine, each service as its own process with the
// embedded development defaults. Ctrl+C stops everything gracefully.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const services = ["persistence", "mailer", "gateway"] as const;
const children: ChildProcess[] = [];

for (const name of services) {
  const child = spawn(process.execPath, [join(root, name, "src", "main.ts")], {
    cwd: root,
    env: process.env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${code ?? signal}); stopping the mesh`);
      stop(1);
    }
  });
  children.push(child);
}

let stopping = false;
function stop(code: number) {
  if (stopping) return;
  stopping = true;
  let left = children.length;
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) left--;
    else {
      child.once("exit", () => --left === 0 && process.exit(code));
      child.kill("SIGTERM");
    }
  }
  if (left === 0) process.exit(code);
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
