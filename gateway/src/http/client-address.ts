// The address a request comes from: the peer's, or, when the peer is a proxy the operator
// trusts (TRUSTED_PROXIES), the nearest address in X-Forwarded-For that is not one of them.
// A client cannot choose its address by sending X-Forwarded-For to an untrusted gateway.
import { BlockList, isIP } from "node:net";

export type ClientAddressOf = (
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
) => string;

export interface TrustedProxies {
  clientAddressOf: ClientAddressOf;
  /** Whether an address is one of the trusted proxies. */
  isTrusted(address: string): boolean;
}

/** Unwraps IPv4-mapped IPv6 (the peer address of a dual-stack socket). */
const plain = (address: string) => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");

/**
 * The address in one X-Forwarded-For entry, as proxies write them: "203.0.113.7",
 * "203.0.113.7:4711", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711" (quotes trimmed).
 */
function addressOf(entry: string): string | undefined {
  let text = entry.trim().replace(/^"|"$/g, "");
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) text = bracketed[1] ?? "";
  else if (/^\d+\.\d+\.\d+\.\d+:\d{1,5}$/.test(text)) text = text.slice(0, text.lastIndexOf(":"));
  const address = plain(text);
  return isIP(address) !== 0 ? address : undefined;
}

export function createClientAddressOf(trustedProxies: readonly string[]): TrustedProxies {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address = "", bits] = entry.split("/");
    const type = isIP(address) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) trusted.addAddress(address, type);
    else trusted.addSubnet(address, Number(bits), type);
  }
  const isTrusted = (a: string) => {
    if (trustedProxies.length === 0) return false;
    const address = plain(a);
    const version = isIP(address);
    return version !== 0 && trusted.check(address, version === 6 ? "ipv6" : "ipv4");
  };
  return {
    isTrusted,
    clientAddressOf(peer, forwardedFor) {
      let client = plain(peer ?? "");
      if (!isTrusted(client)) return client;
      const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? "")).split(",");
      // From the nearest hop back: the first address not of a trusted proxy is the client. An
      // entry that is no address ends the walk at the proxy that wrote it: whatever stands left
      // of it may be the client's own invention.
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = addressOf(hops[i] ?? "");
        if (!hop) break;
        client = hop;
        if (!isTrusted(client)) break;
      }
      return client;
    },
  };
}
