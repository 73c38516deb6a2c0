// The compiled descriptors of every .proto the mesh serves (built by `npm run generate` with
// `buf build`), for gRPC server reflection. Reflection fed from buf's own output describes the
// files exactly as written, so `buf curl` and grpcurl can call every method.
import { readFileSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const path = new URL("../gen/descriptors.binpb", import.meta.url);

let cached: FileDescriptorProto[] | undefined;

/** Every file descriptor in the mesh's descriptor set, dependencies first. */
export function loadFileDescriptors(): FileDescriptorProto[] {
  cached ??= fromBinary(FileDescriptorSetSchema, readFileSync(path)).file;
  return cached;
}
