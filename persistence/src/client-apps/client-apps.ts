// Client apps: the external servers allowed to log people in. Each has an API key (random,
// `eak_` prefix, shown once, stored as SHA-256), settings within safe bounds, and can be
// disabled or deleted.
//
// Login calls read the app on every request; a short in-process cache (CLIENT_APP_CACHE_TTL)
// saves that Redis round trip. A change made through this replica clears its cache at once;
// other replicas see it within the TTL.
import {
  CLIENT_APP_NAME_MAX_LENGTH,
  EMAIL_MAX_LENGTH,
  parseWebLink,
  SENDER_ADDRESS_PATTERN,
} from "@emailauth/platform";
import { ID_PATTERNS, newApiKey, newClientAppId, sha256 } from "../crypto/ids.ts";
import { appError } from "../errors.ts";
import {
  type ClientAppRecord,
  type ClientAppSettingsRecord,
  CODE_LENGTHS,
  type CodeAlphabet,
  type LoginMethodName,
  type Store,
} from "../store/store.ts";

export interface ClientAppSettingsInput {
  displayName: string;
  senderAddress: string;
  codeAlphabet: CodeAlphabet | undefined;
  codeLength: number;
  codeTtlSeconds: number;
  allowedOrigins: string[];
  sendsPerMinute: number;
  /** Empty: codes only. */
  loginMethods: LoginMethodName[];
  linkUrl: string;
}

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;
const CONTROL = /\p{Cc}/u;
export const CODE_TTL = { min: 60, max: 600, default: 600 };
export const LINK_URL_MAX_LENGTH = 1024;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * A magic link's page, as the WHATWG parser writes it (which is what links will say), or why
 * it cannot be one: a web link (platform's rules: http(s), no credentials, no fragment) over
 * https (http for loopback development only), without the two parameters the link adds, at
 * most LINK_URL_MAX_LENGTH characters once encoded (so that every link fits the mailer's 2048).
 */
export function parseLinkUrl(raw: string): { href: string } | { problem: string } {
  if (raw.length > LINK_URL_MAX_LENGTH) return { problem: "not a URL" };
  const parsed = parseWebLink(raw);
  if ("problem" in parsed) return parsed;
  const { url } = parsed;
  if (url.href.length > LINK_URL_MAX_LENGTH)
    return { problem: `at most ${LINK_URL_MAX_LENGTH} characters once encoded` };
  if (url.protocol !== "https:" && !LOOPBACK_HOSTS.has(url.hostname))
    return { problem: "https is required (http only for localhost)" };
  if (url.searchParams.has("challenge_id") || url.searchParams.has("link_token"))
    return { problem: "the link adds challenge_id and link_token itself" };
  return { href: url.href };
}

/** Checks and completes settings; throws CLIENT_APP_SETTINGS_INVALID naming the field. */
export function validateSettings(input: ClientAppSettingsInput): ClientAppSettingsRecord {
  const invalid = (message: string) => appError("CLIENT_APP_SETTINGS_INVALID", { message });
  const displayName = input.displayName.trim();
  if (
    displayName.length < 1 ||
    displayName.length > CLIENT_APP_NAME_MAX_LENGTH ||
    CONTROL.test(displayName)
  ) {
    throw invalid(`display_name: 1 to ${CLIENT_APP_NAME_MAX_LENGTH} characters, no control characters`);
  }
  if (
    input.senderAddress !== "" &&
    (input.senderAddress.length > EMAIL_MAX_LENGTH || !SENDER_ADDRESS_PATTERN.test(input.senderAddress))
  ) {
    throw invalid("sender_address: an email address such as login@example.com");
  }
  const codeAlphabet = input.codeAlphabet ?? "digits";
  const lengths = CODE_LENGTHS[codeAlphabet];
  const codeLength = input.codeLength || lengths.default;
  if (codeLength < lengths.min || codeLength > lengths.max) {
    throw invalid(`code_length: ${lengths.min} to ${lengths.max} for ${codeAlphabet} codes`);
  }
  const codeTtlSeconds = input.codeTtlSeconds || CODE_TTL.default;
  if (codeTtlSeconds < CODE_TTL.min || codeTtlSeconds > CODE_TTL.max) {
    throw invalid(`code_ttl_seconds: ${CODE_TTL.min} to ${CODE_TTL.max}`);
  }
  if (
    input.allowedOrigins.length > 20 ||
    !input.allowedOrigins.every((o) => o.length <= 255 && ORIGIN.test(o))
  ) {
    throw invalid("allowed_origins: at most 20 origins such as https://app.example.com");
  }
  if (
    !Number.isInteger(input.sendsPerMinute) ||
    input.sendsPerMinute < 0 ||
    input.sendsPerMinute > 1_000_000
  ) {
    throw invalid("sends_per_minute: 0 (the default) to 1000000");
  }
  const loginMethods: LoginMethodName[] = input.loginMethods.length ? input.loginMethods : ["code"];
  if (new Set(loginMethods).size !== loginMethods.length) {
    throw invalid("login_methods: each method at most once");
  }
  const link = input.linkUrl === "" ? { href: "" } : parseLinkUrl(input.linkUrl);
  if ("problem" in link) throw invalid(`link_url: ${link.problem}`);
  if (loginMethods.includes("link") && link.href === "")
    throw invalid("link_url: required with the link login method");
  const linkUrl = link.href;
  return {
    displayName,
    senderAddress: input.senderAddress,
    codeAlphabet,
    codeLength,
    codeTtlSeconds,
    allowedOrigins: [...new Set(input.allowedOrigins)],
    sendsPerMinute: input.sendsPerMinute,
    loginMethods,
    linkUrl,
  };
}

export interface ClientApps {
  create(settings: ClientAppSettingsInput): Promise<{ app: ClientAppRecord; apiKey: string }>;
  authenticate(apiKey: string): Promise<ClientAppRecord>;
  get(id: string): Promise<ClientAppRecord>;
  /** The app, if it exists and is enabled: what every login operation needs. Cached. */
  getActive(id: string): Promise<ClientAppRecord>;
  list(p: {
    pageSize: number;
    pageToken: string;
  }): Promise<{ apps: ClientAppRecord[]; nextPageToken: string }>;
  update(id: string, settings: ClientAppSettingsInput): Promise<ClientAppRecord>;
  rotateKey(id: string, graceSeconds: number): Promise<{ app: ClientAppRecord; apiKey: string }>;
  setDisabled(id: string, disabled: boolean): Promise<ClientAppRecord>;
  delete(id: string): Promise<boolean>;
}

export function createClientApps(deps: {
  store: Store;
  clock: () => number;
  cacheTtlMs: number;
}): ClientApps {
  const { store, clock } = deps;
  const cache = new Map<string, { app: ClientAppRecord | undefined; until: number }>();
  const notFound = () => appError("CLIENT_APP_NOT_FOUND");
  const found = (app: ClientAppRecord | undefined) => {
    if (!app) throw notFound();
    cache.delete(app.id);
    return app;
  };
  const keyPrefixOf = (apiKey: string) => apiKey.slice(0, 12);

  return {
    async create(input) {
      const now = clock();
      const apiKey = newApiKey();
      const app: ClientAppRecord = {
        id: newClientAppId(),
        settings: validateSettings(input),
        keyPrefix: keyPrefixOf(apiKey),
        disabled: false,
        createdAt: now,
        updatedAt: now,
      };
      await store.createClientApp(app, sha256(apiKey));
      return { app, apiKey };
    },

    async authenticate(apiKey) {
      if (!ID_PATTERNS.apiKey.test(apiKey)) throw appError("API_KEY_INVALID");
      const app = await store.findClientAppByKeyHash(sha256(apiKey));
      if (!app) throw appError("API_KEY_INVALID");
      if (app.disabled) throw appError("CLIENT_APP_DISABLED");
      return app;
    },

    async get(id) {
      if (!ID_PATTERNS.clientApp.test(id)) throw notFound();
      const app = await store.getClientApp(id);
      if (!app) throw notFound();
      return app;
    },

    async getActive(id) {
      const now = clock();
      const hit = cache.get(id);
      let app = hit && hit.until > now ? hit.app : undefined;
      if (!hit || hit.until <= now) {
        app = ID_PATTERNS.clientApp.test(id) ? await store.getClientApp(id) : undefined;
        if (deps.cacheTtlMs > 0) cache.set(id, { app, until: now + deps.cacheTtlMs });
      }
      if (!app) throw notFound();
      if (app.disabled) throw appError("CLIENT_APP_DISABLED");
      return app;
    },

    async list(p) {
      const count = p.pageSize === 0 ? 100 : p.pageSize;
      const { apps, nextCursor } = await store.listClientApps({ cursor: p.pageToken, count });
      return { apps, nextPageToken: nextCursor };
    },

    async update(id, input) {
      const settings = validateSettings(input);
      await this.get(id);
      return found(await store.updateClientAppSettings(id, settings, clock()));
    },

    async rotateKey(id, graceSeconds) {
      await this.get(id);
      const apiKey = newApiKey();
      const app = found(
        await store.rotateClientAppKey(id, {
          keyHash: sha256(apiKey),
          keyPrefix: keyPrefixOf(apiKey),
          graceMs: graceSeconds * 1000,
          now: clock(),
        }),
      );
      return { app, apiKey };
    },

    async setDisabled(id, disabled) {
      await this.get(id);
      return found(await store.setClientAppDisabled(id, disabled, clock()));
    },

    async delete(id) {
      cache.delete(id);
      return ID_PATTERNS.clientApp.test(id) ? store.deleteClientApp(id) : false;
    },
  };
}
