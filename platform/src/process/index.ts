// Running the services as processes: used by `npm start` (dev/start.ts) and by the tests.
export { createLogSink, type LogSink } from "./log-sink.ts";
export { freePort } from "./ports.ts";
export { type ServiceName, type ServiceProcess, type SpawnOptions, spawnService } from "./service-process.ts";
