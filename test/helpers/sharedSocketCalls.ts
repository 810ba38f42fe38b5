/**
 * Run in a child process (jest's sandboxed `process` never sees Node's 'warning' events): N requests
 * at once over one `ws` WebSocket to a gateway, then prints the warnings Node emitted and
 * `done <requests answered>`.
 */
import { lastValueFrom, toArray } from 'rxjs';
import WebSocket from 'ws';
import { startGateway } from '../../src';
import { bearerProtocol, fromWebSocket } from '../../src/browser';

async function main() {
  const n = Number(process.argv[2] ?? 12);
  const warnings: string[] = [];
  process.on('warning', (warning) => warnings.push(warning.name));
  const gateway = await startGateway({
    port: 0,
    token: 'sk-test-shared-socket-0123456789',
    log: () => undefined,
  });
  const socket = new WebSocket(
    `${gateway.url.replace('http', 'ws')}/v1/chat/ws`,
    bearerProtocol('sk-test-shared-socket-0123456789'),
  );
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      lastValueFrom(
        fromWebSocket(socket, {
          model: 'mock/echo',
          messages: [{ role: 'user', content: `question ${i}` }],
          mock_delay_ms: 5,
        }).pipe(toArray()),
      ),
    ),
  );
  // Node emits 'warning' on a later tick.
  await new Promise((r) => setTimeout(r, 50));
  socket.close();
  await gateway.close(0);
  for (const w of warnings) console.log(w);
  console.log(`done ${answers.filter((a) => a.length > 0).length}`);
}

void main();
