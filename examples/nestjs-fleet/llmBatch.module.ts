// The NestJS recipe of docs/fleet.md: a batch module on @nestjs/bullmq. The processor is a
// WorkerHost (so @nestjs/bullmq starts and stops the worker with the app) that hands each job to
// rxllm's batch pipeline; the service enqueues and reads progress. test/bullmq/nestRecipe.spec.ts
// runs it in a real Nest app against a real redis-server.
import { BullModule, InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Injectable, Module, type DynamicModule } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import {
  batchStatus,
  createBatchProcessor,
  enqueueBatch,
  readBatchResults,
  type BatchJobData,
  type BatchLine,
  type BatchProcessorOptions,
  type BatchRecord,
} from 'rxllm/bullmq';

export const LLM_BATCH_QUEUE = 'rxllm-batch';
const LLM_BATCH_OPTIONS = Symbol('LLM_BATCH_OPTIONS');

@Processor(LLM_BATCH_QUEUE, { concurrency: 20 })
export class LlmBatchProcessor extends WorkerHost {
  private readonly run: (job: Job<BatchJobData>) => Promise<BatchRecord>;

  constructor(
    @InjectQueue(LLM_BATCH_QUEUE) queue: Queue,
    @Inject(LLM_BATCH_OPTIONS) options: BatchProcessorOptions,
  ) {
    super();
    this.run = createBatchProcessor(queue, options);
  }

  process(job: Job<BatchJobData>): Promise<BatchRecord> {
    return this.run(job);
  }
}

@Injectable()
export class LlmBatchService {
  constructor(@InjectQueue(LLM_BATCH_QUEUE) private readonly queue: Queue) {}

  submit(batchId: string, lines: BatchLine[]) {
    return enqueueBatch(this.queue, lines, { batchId });
  }

  status(batchId: string) {
    return batchStatus(this.queue, batchId);
  }

  /** Every result so far (a page of 1000 at a time). */
  async results(batchId: string): Promise<BatchRecord[]> {
    const all: BatchRecord[] = [];
    let page = await readBatchResults(this.queue, batchId);
    while (page.records.length > 0) {
      all.push(...page.records);
      page = await readBatchResults(this.queue, batchId, { after: page.next });
    }
    return all;
  }
}

@Module({})
export class LlmBatchModule {
  /** `options`: how jobs run (retries, a shared rate limit or router, a budget...). */
  static forRoot(options: BatchProcessorOptions): DynamicModule {
    return {
      module: LlmBatchModule,
      imports: [BullModule.registerQueue({ name: LLM_BATCH_QUEUE })],
      providers: [{ provide: LLM_BATCH_OPTIONS, useValue: options }, LlmBatchProcessor, LlmBatchService],
      exports: [LlmBatchService],
    };
  }
}
