// An independent MLLP client (@medplum/hl7): sends each HL7 message given on stdin (a JSON
// array of strings) to host:port over one connection and prints the ACKs as a JSON array.
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import { readFileSync } from 'node:fs';

const [host, port] = process.argv.slice(2);
const messages = JSON.parse(readFileSync(0, 'utf8'));
const client = new Hl7Client({ host, port: Number(port), connectTimeout: 5000 });
const acks = [];
try {
  for (const text of messages) {
    const ack = await client.sendAndWait(Hl7Message.parse(text), { timeoutMs: 20000 });
    acks.push(ack.toString());
  }
} finally {
  await client.close();
}
process.stdout.write(JSON.stringify(acks));
