import { createMemoryStore } from "../src/store/memory-store.ts";
import { describeStoreContract } from "./store-contract.ts";

describeStoreContract("memory", async () => ({
  makeStore: (clock) => createMemoryStore({ clock }),
  limitsBackend: { kind: "memory" },
  close: async () => {},
}));
