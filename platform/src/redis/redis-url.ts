// One variable describes any Redis deployment:
//   redis://[user:password@]host:port[/db]                    standalone (rediss:// for TLS)
//   redis+sentinel://[user:password@]host:port,host:port/name Sentinel: the sentinels and the
//                                                             master's name (rediss+sentinel:// for TLS)
//   redis+cluster://[user:password@]host:port,host:port       Cluster: seed nodes
//                                                             (rediss+cluster:// for TLS)

export interface RedisTarget {
  mode: "standalone" | "sentinel" | "cluster";
  tls: boolean;
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  db: number;
  /** Sentinel only: the monitored master's name. */
  masterName?: string;
}

const PATTERN =
  /^(rediss?)(\+sentinel|\+cluster)?:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+?)(?:\/([^/?#]*))?$/;

export function parseRedisUrl(raw: string): RedisTarget {
  const m = PATTERN.exec(raw.trim());
  if (!m) throw new Error("not a redis://, redis+sentinel:// or redis+cluster:// URL");
  const [, scheme, variant, user, pass, hosts = "", path = ""] = m;
  const nodes = hosts.split(",").map((h) => {
    const hm = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(h.trim());
    if (!hm) throw new Error(`bad host "${h}"`);
    const port = Number(hm[2] ?? (variant === "+sentinel" ? 26379 : 6379));
    if (port < 1 || port > 65535) throw new Error(`bad port in "${h}"`);
    return { host: (hm[1] ?? "").replace(/^\[|\]$/g, ""), port };
  });
  const mode = variant === "+sentinel" ? "sentinel" : variant === "+cluster" ? "cluster" : "standalone";
  if (mode === "standalone" && nodes.length !== 1) throw new Error("a standalone URL names one host");
  const target: RedisTarget = { mode, tls: scheme === "rediss", nodes, db: 0 };
  if (user) target.username = decodeURIComponent(user);
  if (pass) target.password = decodeURIComponent(pass);
  if (mode === "sentinel") {
    if (!path) throw new Error("a sentinel URL ends with /<master name>");
    target.masterName = decodeURIComponent(path);
  } else if (path) {
    if (mode === "cluster") throw new Error("Redis Cluster has no databases: remove the /db part");
    if (!/^\d{1,2}$/.test(path)) throw new Error("the database is a number");
    target.db = Number(path);
  }
  return target;
}
