// `npm run generate`: regenerates everything derived from the .proto files.
// `npm run generate:check`: the same, then fails if the committed files differ (CI).
//
// Steps: print buf/validate/validate.proto from @bufbuild/protovalidate, `buf generate`
// (ts-proto + protoc-gen-es, local plugins), and `buf build` the descriptor set that the
// gRPC servers hand to server reflection.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { printValidateProto } from "./export-validate-proto.ts";

const root = join(import.meta.dirname, "..", "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

writeFileSync(join(root, "proto/vendor/buf/validate/validate.proto"), printValidateProto());
// The protos of the health and reflection services our servers run, from the packages that run
// them (so that a plain checkout builds without node_modules, and the copies cannot drift).
const vendored: [from: string, to: string][] = [
  ["node_modules/grpc-health-check/proto/health/v1/health.proto", "health/v1/health.proto"],
  [
    "node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto",
    "grpc/reflection/v1/reflection.proto",
  ],
  [
    "node_modules/@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto",
    "grpc/reflection/v1alpha/reflection.proto",
  ],
];
for (const [from, to] of vendored) {
  mkdirSync(dirname(join(root, "proto/vendor", to)), { recursive: true });
  copyFileSync(join(root, from), join(root, "proto/vendor", to));
}
run(bin("buf"), ["generate"]);
// With `types`, buf hands protoc-gen-es validate.proto as a target too; the generated code
// imports the validator's own copy instead (rewrite_imports in buf.gen.yaml), so drop it.
rmSync(join(root, "proto/gen/es/buf"), { recursive: true, force: true });
// Everything reflection may be asked about: our services, health, reflection itself, and
// their dependencies. No source info: comments are not needed to call a method.
run(bin("buf"), ["build", "--exclude-source-info", "-o", "proto/gen/descriptors.binpb"]);

if (process.argv.includes("--check")) {
  const changed = execFileSync(
    "git",
    ["status", "--porcelain", "--", "proto/gen", "proto/vendor", "proto/client/src/gen"],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  if (changed.trim() !== "") {
    console.error(`Generated code is stale; run \`npm run generate\` and commit:\n${changed}`);
    process.exit(1);
  }
}
