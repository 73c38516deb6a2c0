import { clusterHarness } from "./redis-harness.ts";
import { describeStoreContract } from "./store-contract.ts";

describeStoreContract("redis (3-master cluster)", clusterHarness);
