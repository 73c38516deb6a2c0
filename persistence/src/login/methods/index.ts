// The login methods, by name. Adding one: a module here (how its proof is made and read
// back), its name in LOGIN_METHOD_NAMES (store.ts) and in the LoginMethod enum of the
// contracts; the README's "Adding a login method" lists the other services' parts.
import type { LoginMethodName } from "../../store/store.ts";
import { codeMethod } from "./code.ts";
import { linkMethod } from "./link.ts";
import type { LoginMethod } from "./login-method.ts";

export type { LoginMethod };

export const LOGIN_METHODS: Readonly<Record<LoginMethodName, LoginMethod>> = {
  code: codeMethod,
  link: linkMethod,
};
