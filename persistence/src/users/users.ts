// Users: found by id or by (normalised) email, and erased on request — the user record, the
// email index, sessions and tokens, codes, counters and the email's send limits: nothing about the person
// stays behind.

import { ID_PATTERNS } from "../crypto/ids.ts";
import type { Peppered } from "../crypto/secrets.ts";
import { appError } from "../errors.ts";
import type { Store, UserRecord } from "../store/store.ts";

export interface Users {
  get(userId: string): Promise<UserRecord>;
  findByEmail(normalizedEmail: string): Promise<UserRecord>;
  delete(userId: string): Promise<boolean>;
}

export function createUsers(deps: { store: Store; peppered: Peppered }): Users {
  const { store } = deps;
  return {
    async get(userId) {
      const user = ID_PATTERNS.user.test(userId) ? await store.getUser(userId) : undefined;
      if (!user) throw appError("USER_NOT_FOUND");
      return user;
    },
    async findByEmail(email) {
      const person = deps.peppered.person(email);
      const user = await store.findUser({ tag: person.tag, digest: person.digest });
      if (!user) throw appError("USER_NOT_FOUND");
      return user;
    },
    async delete(userId) {
      if (!ID_PATTERNS.user.test(userId)) return false;
      // The email's send limits live in the person's slot: erased with the rest.
      return (await store.deleteUser(userId)).deleted;
    },
  };
}
