// Summarises a V8 CPU profile (.cpuprofile, from `node --cpu-prof`): where the CPU time goes,
// by package and by function, as self time (spent in the function itself) and as total time
// (the function and what it calls). Idle and the profiler's own ticks are left out.
//   node bench/profile-summary.ts <file.cpuprofile> [top=25] [--callers <function name>]
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const file = process.argv[2];
if (!file) throw new Error("usage: node bench/profile-summary.ts <file.cpuprofile> [top]");
const top = Number(process.argv[3] ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8")) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
};
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const where = (url: string) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1] as string;
  if (url.startsWith("node:")) return url;
  const local = /\/work\/[^/]+\/(.+)$/.exec(url);
  return local ? (local[1] as string) : url || "(native)";
};
const label = (n: Node) =>
  `${n.callFrame.functionName || "(anonymous)"}  ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const IGNORED = new Set(["(idle)", "(program)"]);

const self = new Map<string, number>();
const total = new Map<string, number>();
const pkgs = new Map<string, number>();
let busy = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  const n = byId.get(id);
  if (!n || IGNORED.has(n.callFrame.functionName)) return;
  busy += dt;
  self.set(label(n), (self.get(label(n)) ?? 0) + dt);
  const pkg = where(n.callFrame.url);
  const key =
    n.callFrame.url.includes("/node_modules/") || pkg.startsWith("node:") || pkg === "(native)"
      ? pkg
      : pkg.split("/").slice(0, 2).join("/");
  pkgs.set(key, (pkgs.get(key) ?? 0) + dt);
  // Every distinct frame on the stack gets the sample once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const node = byId.get(cur);
    if (!node || node.callFrame.functionName === "(root)") continue;
    const l = label(node);
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + dt);
  }
});
const show = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`)
    .join("\n");
const callersOf = process.argv.indexOf("--callers");
if (callersOf > 0) {
  const name = process.argv[callersOf + 1];
  const stacks = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const n = byId.get(id);
    if (n?.callFrame.functionName !== name) return;
    const chain: string[] = [];
    for (let cur = parent.get(id); cur !== undefined && chain.length < 6; cur = parent.get(cur)) {
      const p = byId.get(cur);
      if (p && p.callFrame.functionName !== "(root)") chain.push(label(p));
    }
    const key = chain.join("  <  ");
    stacks.set(key, (stacks.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  process.stdout.write(`callers of ${name}:\n${show(stacks)}\n`);
  process.exit(0);
}
process.stdout.write(
  `busy ${(busy / 1e6).toFixed(1)} s (idle left out)\n\nby package or folder (self):\n${show(pkgs)}\n\nby function, self:\n${show(self)}\n\nby function, total:\n${show(total)}\n`,
);
