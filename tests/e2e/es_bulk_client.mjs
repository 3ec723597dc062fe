// Ships the NDJSON documents of argv[3] to argv[2] (an Elasticsearch URL: vigil's
// `elasticsearch` collector) with the official client's bulk helper, as an application or
// Fluent Bit-like shipper would; prints the helper's stats as JSON.
import { Client } from '@elastic/elasticsearch';
import { readFileSync } from 'node:fs';

const [url, file] = process.argv.slice(2);
const docs = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const client = new Client({ node: url });
const info = await client.info();
const failed = [];
const stats = await client.helpers.bulk({
  datasource: docs,
  onDocument: () => ({ create: { _index: 'winlogbeat-test' } }),
  onDrop: (d) => failed.push(d.status),
  flushBytes: 200000,
  retries: 0,
});
console.log(JSON.stringify({ version: info.version.number, total: stats.total, successful: stats.successful,
                             failed: stats.failed, drops: failed }));
