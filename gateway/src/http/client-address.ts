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
      const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? ""))
        .split(",")
        .map((h) => plain(h.trim()))
        .filter((h) => isIP(h) !== 0);
      for (let i = hops.length - 1; i >= 0; i--) {
        client = hops[i] as string;
        if (!isTrusted(client)) break;
      }
      return client;
    },
  };
}
