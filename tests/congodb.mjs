// CongoDB test server and fixture loader for the mongo adapter tests.
//
// tests/mongo.sh copies this file next to the CongoDB sources and their
// node_modules (in the cache directory) and runs it there:
//
//   node congodb.mjs serve HOST PORT
//       start CongoDB (dist_ts/congodb of @push.rocks/smartmongo 2.2.0, an
//       OP_MSG server whose query engine is mingo) and run until SIGTERM
//   node congodb.mjs ping PORT
//       exit 0 once a server on 127.0.0.1:PORT answers {ping: 1}
//   node congodb.mjs load PORT DB COLLECTION FILE [COPIES]
//       drop COLLECTION, then insert the extended-JSON documents of FILE (one
//       per line, as mongoimport reads them). With COPIES, insert that many
//       documents cycling through FILE with "id" renumbered 1..COPIES: a
//       collection that is slow to read, for the timeout case.
//
// There is no mongoimport here, so the loader speaks the wire protocol
// itself: OP_MSG commands built with the bson package. Extended JSON is read
// in canonical mode so $numberLong stays a 64-bit integer and $numberDouble a
// double, exactly as mongoimport would store them.
import fs from 'node:fs';
import net from 'node:net';
import { EJSON, Long, serialize, deserialize } from 'bson';

const OP_MSG = 2013;

function die(msg) {
  console.error(`congodb.mjs: ${msg}`);
  process.exit(1);
}

// One connection; commands run one at a time.
class WireClient {
  constructor(port) {
    this.port = port;
    this.buf = Buffer.alloc(0);
    this.nextId = 1;
    this.pending = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect(this.port, '127.0.0.1', resolve);
      this.sock.once('error', reject);
      this.sock.on('data', (d) => this.onData(d));
      this.sock.on('close', () => {
        if (this.pending) this.pending.reject(new Error('connection closed'));
        this.pending = null;
      });
    });
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4 && this.buf.length >= this.buf.readInt32LE(0)) {
      const len = this.buf.readInt32LE(0);
      const msg = this.buf.subarray(0, len);
      this.buf = this.buf.subarray(len);
      const p = this.pending;
      this.pending = null;
      if (!p) continue;
      if (msg.readInt32LE(12) !== OP_MSG || msg.readUInt8(20) !== 0) {
        p.reject(new Error('unexpected reply'));
        continue;
      }
      // header (16) + flagBits (4) + section kind 0 (1) + body
      p.resolve(deserialize(msg.subarray(21), { promoteLongs: false }));
    }
  }

  command(db, doc) {
    const body = serialize({ ...doc, $db: db });
    const head = Buffer.alloc(21);
    head.writeInt32LE(21 + body.length, 0);
    head.writeInt32LE(this.nextId++, 4);
    head.writeInt32LE(0, 8);
    head.writeInt32LE(OP_MSG, 12);
    head.writeUInt32LE(0, 16);
    head.writeUInt8(0, 20);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.sock.write(Buffer.concat([head, body]));
    });
  }

  close() {
    this.sock.end();
  }
}

async function checked(client, db, doc) {
  const r = await client.command(db, doc);
  if (Number(r.ok) !== 1) die(`${Object.keys(doc)[0]} failed: ${r.errmsg || JSON.stringify(r)}`);
  if (r.writeErrors && r.writeErrors.length) die(`insert failed: ${r.writeErrors[0].errmsg}`);
  return r;
}

async function serve(host, port) {
  // Resolved next to this file: the extracted dist_ts/congodb.
  const { CongoServer } = await import('./congodb/index.js');
  const server = new CongoServer({ host, port });
  await server.start();
  console.log(`CongoDB listening on ${host}:${port}`);
  const stop = async () => {
    await server.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function ping(port) {
  const client = new WireClient(port);
  await client.connect();
  await checked(client, 'admin', { ping: 1 });
  client.close();
}

async function load(port, db, coll, file, copies) {
  const docs = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => EJSON.parse(line, { relaxed: false }));
  if (!docs.length) die(`${file}: no documents`);
  const total = copies || docs.length;
  const client = new WireClient(port);
  await client.connect();
  await client.command(db, { drop: coll }); // "ns not found" the first time
  const BATCH = 1000;
  let inserted = 0;
  for (let i = 0; i < total; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(total, i + BATCH); j++) {
      const d = { ...docs[j % docs.length] };
      if (copies) d.id = Long.fromNumber(j + 1);
      batch.push(d);
    }
    const r = await checked(client, db, { insert: coll, documents: batch, ordered: true });
    inserted += Number(r.n);
  }
  client.close();
  if (inserted !== total) die(`inserted ${inserted} of ${total} documents into ${db}.${coll}`);
  console.log(`loaded ${inserted} documents into ${db}.${coll}`);
}

const [cmd, ...args] = process.argv.slice(2);
const portArg = (s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65535) die(`bad port '${s}'`);
  return n;
};
try {
  if (cmd === 'serve' && args.length === 2) await serve(args[0], portArg(args[1]));
  else if (cmd === 'ping' && args.length === 1) await ping(portArg(args[0]));
  else if (cmd === 'load' && (args.length === 4 || args.length === 5))
    await load(portArg(args[0]), args[1], args[2], args[3], args[4] ? Number(args[4]) : 0);
  else die('usage: serve HOST PORT | ping PORT | load PORT DB COLLECTION FILE [COPIES]');
} catch (e) {
  die(e.message || String(e));
}
