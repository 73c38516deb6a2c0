// One vitest run for the whole repository: unit tests beside the code (src/**/*.test.ts),
// integration tests per service (<service>/test/), and cross-service tests (test/).
// Tests start what they need themselves (redis-server, SMTP sinks, service processes) on free
// ports. The JSON report feeds .ci/run's "N passed, N failed" line.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "{platform,persistence,mailer,gateway,proto,devkit}/{src,test}/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    // Missing programs (redis-server) stop the run at once with one line saying what to install,
    // rather than a timeout in every file that needs them.
    globalSetup: ["test/prerequisites.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
    // Two cores: more parallel files than that only makes the service-process tests slower.
    maxWorkers: 2,
  },
});
