// The key an end-user IP is limited by: the address itself for IPv4, its /64 network for IPv6
// (one subscriber usually holds a whole /64, so limiting single IPv6 addresses limits nothing).
import { isIP } from "node:net";

function expandIPv6(ip: string): string[] {
  let address = ip.toLowerCase().split("%")[0] ?? "";
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    address = `${address.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const missing = 8 - left.length - right.length;
  return [...left, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...right].map((g) =>
    g.padStart(4, "0"),
  );
}

/** Undefined for an empty or invalid address. */
export function ipLimitKey(ip: string): string | undefined {
  const version = isIP(ip);
  if (version === 4) return ip;
  if (version !== 6) return undefined;
  const groups = expandIPv6(ip);
  // IPv4-mapped addresses (::ffff:a.b.c.d) are limited as the IPv4 address they are.
  if (groups.slice(0, 6).join(":") === "0000:0000:0000:0000:0000:ffff") {
    const [hi = 0, lo = 0] = groups.slice(6).map((g) => Number.parseInt(g, 16));
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return `${groups.slice(0, 4).join(":")}::/64`;
}
