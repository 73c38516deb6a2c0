// The login methods the gateway knows, by the contract's LoginMethod value.
import { LoginMethod } from "@emailauth/proto/persistence";
import { codeMethod } from "./code.ts";
import { linkMethod } from "./link.ts";
import type { GatewayLoginMethod } from "./login-method.ts";

const METHODS: ReadonlyMap<LoginMethod, GatewayLoginMethod> = new Map([
  [LoginMethod.LOGIN_METHOD_CODE, codeMethod],
  [LoginMethod.LOGIN_METHOD_LINK, linkMethod],
]);

/** A method's edge behaviour; sessions from before methods existed (unspecified) were codes. */
export function loginMethod(method: LoginMethod | undefined): GatewayLoginMethod {
  return METHODS.get(method ?? LoginMethod.LOGIN_METHOD_CODE) ?? codeMethod;
}

/** The code and link of a login email, from every method the challenge was issued with. */
export function emailParts(issued: Parameters<GatewayLoginMethod["emailPart"]>[0]): {
  code: string;
  link: string;
} {
  const parts = { code: "", link: "" };
  for (const method of METHODS.values()) Object.assign(parts, method.emailPart(issued));
  return parts;
}
