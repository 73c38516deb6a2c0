// gRPC server reflection on the gateway's Connect router, so that `buf curl`/grpcurl can list
// and call the public API: grpc.reflection.v1, and v1alpha for the many grpcurl versions that
// still speak only that (the two are the same messages under two package names, as the
// grpc-js services serve them). The lookups are done by @grpc/reflection's own implementation
// (the one our grpc-js servers run), fed with buf's descriptors; this file only converts its
// plain-object messages to and from protobuf-es messages.
import { create, type DescMessage } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { reflectionPackage } from "@emailauth/platform";
import {
  type ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "@emailauth/proto/reflection";
import {
  ServerReflectionResponseSchema as ServerReflectionResponseSchemaV1alpha,
  type ServerReflection as ServerReflectionV1alpha,
} from "@emailauth/proto/reflection-v1alpha";
import { ReflectionV1Implementation } from "@grpc/reflection/build/src/implementations/reflection-v1.js";

interface PlainResponse {
  validHost?: string;
  listServicesResponse?: { service?: { name?: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto?: Uint8Array[] };
  allExtensionNumbersResponse?: { baseTypeName?: string; extensionNumber?: number[] };
  errorResponse?: { errorCode?: number; errorMessage?: string };
}

function toPlainRequest(req: ServerReflectionRequest): Record<string, unknown> {
  const { case: kind, value } = req.messageRequest;
  return kind === undefined ? { host: req.host } : { host: req.host, messageRequest: kind, [kind]: value };
}

function toResponse(
  req: ServerReflectionRequest,
  plain: PlainResponse,
  schema: DescMessage = ServerReflectionResponseSchema,
): ServerReflectionResponse {
  const create = (init: object) => createAs(schema, init);
  const base = { validHost: plain.validHost ?? req.host, originalRequest: req };
  if (plain.listServicesResponse) {
    const service = (plain.listServicesResponse.service ?? []).map((s) => ({ name: s.name ?? "" }));
    return create({
      ...base,
      messageResponse: { case: "listServicesResponse", value: { service } },
    });
  }
  if (plain.fileDescriptorResponse) {
    const fileDescriptorProto = (plain.fileDescriptorResponse.fileDescriptorProto ?? []).map(
      (b) => new Uint8Array(b),
    );
    return create({
      ...base,
      messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto } },
    });
  }
  if (plain.allExtensionNumbersResponse) {
    return create({
      ...base,
      messageResponse: {
        case: "allExtensionNumbersResponse",
        value: {
          baseTypeName: plain.allExtensionNumbersResponse.baseTypeName ?? "",
          extensionNumber: plain.allExtensionNumbersResponse.extensionNumber ?? [],
        },
      },
    });
  }
  return create({
    ...base,
    messageResponse: {
      case: "errorResponse",
      value: {
        errorCode: plain.errorResponse?.errorCode ?? 2,
        errorMessage: plain.errorResponse?.errorMessage ?? "unknown request",
      },
    },
  });
}

/** A message of `schema` (v1 or v1alpha: the same fields) from a plain initializer. */
function createAs(schema: DescMessage, init: object): ServerReflectionResponse {
  return create(schema, init as never) as unknown as ServerReflectionResponse;
}

export interface ReflectionServices {
  v1: ServiceImpl<typeof ServerReflection>;
  v1alpha: ServiceImpl<typeof ServerReflectionV1alpha>;
}

export function createReflectionServices(deps: { services: readonly string[] }): ReflectionServices {
  const impl = new ReflectionV1Implementation(reflectionPackage(), { services: [...deps.services] });
  const serve = (schema: DescMessage) =>
    async function* serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>) {
      for await (const req of requests) {
        const plain = impl.handleServerReflectionRequest(toPlainRequest(req) as never) as PlainResponse;
        yield toResponse(req, plain, schema);
      }
    };
  return {
    v1: { serverReflectionInfo: serve(ServerReflectionResponseSchema) },
    v1alpha: {
      serverReflectionInfo: serve(ServerReflectionResponseSchemaV1alpha) as unknown as ServiceImpl<
        typeof ServerReflectionV1alpha
      >["serverReflectionInfo"],
    },
  };
}
