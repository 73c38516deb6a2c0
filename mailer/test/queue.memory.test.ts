import { createMemoryQueue } from "../src/queue/memory-queue.ts";
import { describeQueueContract } from "./queue-contract.ts";

describeQueueContract("in-process", async (options, observer) => createMemoryQueue({ options, observer }));
