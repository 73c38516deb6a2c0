import { standaloneHarness } from "./redis-harness.ts";
import { describeStoreContract } from "./store-contract.ts";

describeStoreContract("redis (standalone)", standaloneHarness);
