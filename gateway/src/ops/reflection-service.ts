// gRPC server reflection (grpc.reflection.v1) on the gateway's Connect router, so that
// `buf curl`/grpcurl can list and call the public API. The lookups are done by @grpc/reflection's
// own v1 implementation (the one our grpc-js servers run), fed with buf's descriptors; this
// file only converts its plain-object messages to and from protobuf-es messages.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { reflectionPackage } from "@emailauth/platform";
import {
  type ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "@emailauth/proto/reflection";
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

function toResponse(req: ServerReflectionRequest, plain: PlainResponse): ServerReflectionResponse {
  const base = { validHost: plain.validHost ?? req.host, originalRequest: req };
  if (plain.listServicesResponse) {
    const service = (plain.listServicesResponse.service ?? []).map((s) => ({ name: s.name ?? "" }));
    return create(ServerReflectionResponseSchema, {
      ...base,
      messageResponse: { case: "listServicesResponse", value: { service } },
    });
  }
  if (plain.fileDescriptorResponse) {
    const fileDescriptorProto = (plain.fileDescriptorResponse.fileDescriptorProto ?? []).map(
      (b) => new Uint8Array(b),
    );
    return create(ServerReflectionResponseSchema, {
      ...base,
      messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto } },
    });
  }
  if (plain.allExtensionNumbersResponse) {
    return create(ServerReflectionResponseSchema, {
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
  return create(ServerReflectionResponseSchema, {
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

export function createReflectionService(deps: {
  services: readonly string[];
}): ServiceImpl<typeof ServerReflection> {
  const impl = new ReflectionV1Implementation(reflectionPackage(), { services: [...deps.services] });
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        const plain = impl.handleServerReflectionRequest(toPlainRequest(req) as never) as PlainResponse;
        yield toResponse(req, plain);
      }
    },
  };
}
