// Checked once before any test runs: the programs the tests start themselves. Without them
// every file needing Redis would fail on its own, after its own timeout, saying little.
import { spawnSync } from "node:child_process";
import { MISSING_REDIS } from "@emailauth/platform/testing";

export default function checkPrerequisites(): void {
  const missing = ["redis-server", "redis-cli"].filter(
    (program) => spawnSync(program, ["--version"], { stdio: "ignore" }).error !== undefined,
  );
  if (missing.length > 0) {
    // One line and out: thrown, it would come after vitest's own "No test files found".
    process.stderr.write(`\n${missing.join(" and ")} not found. ${MISSING_REDIS}\n\n`);
    process.exit(1);
  }
}
