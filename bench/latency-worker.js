// Worker thread: measures the latency of GET <path> with a few sequential
// keep-alive loops, on its own event loop so the submitters running in the
// main thread do not inflate the figures. Posts back the raw latencies (ms).
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { port, path, connections, durationMs } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });

function once() {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, status: res.statusCode }));
      res.on('error', () => resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, status: 0 }));
    });
    req.on('error', () => resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, status: 0 }));
  });
}

const latencies = [];
let errors = 0;
const deadline = Date.now() + durationMs;
async function loop() {
  while (Date.now() < deadline) {
    const r = await once();
    if (r.status === 200) latencies.push(r.ms);
    else errors++;
  }
}
await Promise.all(Array.from({ length: connections }, loop));
agent.destroy();
parentPort.postMessage({ latencies, errors });
