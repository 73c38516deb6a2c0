// Checked once before any test runs: the programs the tests start themselves. Without them
// every file needing Redis would fail on its own, after its own timeout, saying little.
import { spawnSync } from "node:child_process";

/** Each program the tests run, and the Debian package that has it. */
const PROGRAMS: Record<string, string> = {
  "redis-server": "redis-server",
  "redis-cli": "redis-tools",
  promtool: "prometheus",
};

export default function checkPrerequisites(): void {
  const missing = Object.keys(PROGRAMS).filter(
    (program) => spawnSync(program, ["--version"], { stdio: "ignore" }).error !== undefined,
  );
  if (missing.length === 0) return;
  // One line and out: thrown, it would come after vitest's own "No test files found".
  const packages = [...new Set(missing.map((p) => PROGRAMS[p]))].join(" ");
  const redis = missing.some((p) => p.startsWith("redis"))
    ? " The tests start their own Redis processes."
    : "";
  process.stderr.write(
    `\n${missing.join(", ")} not found.${redis} Install Debian's packages: sudo apt-get install -y ${packages} (or run \`bash dev/run.sh test\`, which does it for you)\n\n`,
  );
  process.exit(1);
}
