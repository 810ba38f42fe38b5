// Boots the recipe's module in a Nest application context (no HTTP): enqueues the lines it reads
// as JSON from argv, waits until every one has a result, prints the results and the status as JSON.
//   tsx examples/nestjs-fleet/main.ts <redis port> <mock base URL> '<lines JSON>'
import 'reflect-metadata';
import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LlmBatchModule, LlmBatchService } from './llmBatch.module';

async function main(): Promise<void> {
  const [port, baseURL, lines] = process.argv.slice(2);

  @Module({
    imports: [
      BullModule.forRoot({ connection: { host: '127.0.0.1', port: Number(port) } }),
      LlmBatchModule.forRoot({ retries: 2, options: { baseURL, apiKey: 'sk-test-nest-recipe' } }),
    ],
  })
  class AppModule {}

  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const batches = app.get(LlmBatchService);
  const enqueued = await batches.submit('nest-recipe', JSON.parse(lines));
  while ((await batches.status('nest-recipe')).remaining > 0) await new Promise((r) => setTimeout(r, 50));
  const results = await batches.results('nest-recipe');
  const status = await batches.status('nest-recipe');
  await app.close();
  process.stdout.write(JSON.stringify({ enqueued, results, status }) + '\n');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
