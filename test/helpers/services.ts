// The mesh's services as processes for the cross-service tests: each from its own main.ts, as
// production runs it. Which file that is, is known here, by the tests: devkit's launcher
// runs whatever entry it is given.
import { join } from "node:path";
import { type ServiceProcess, type SpawnOptions, spawnService } from "@emailauth/devkit";

export type ServiceName = "persistence" | "mailer" | "gateway";

const root = join(import.meta.dirname, "..", "..");

export function startService(name: ServiceName, options: SpawnOptions = {}): Promise<ServiceProcess> {
  return spawnService(join(root, name, "src", "main.ts"), { name, cwd: root, ...options });
}
