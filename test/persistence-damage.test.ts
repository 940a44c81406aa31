/**
 * Damaged persistence files are reported in one line and the broker starts with what can
 * be read; saving (SIGUSR1's save(), autosave, a large journal) folds the journal into the
 * snapshot.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { publishQos1, receiveAll } from './helpers/persist-flows.js';
import { cleanupPersistent, crashCopy, startPersistent, stopBroker, tempDir, type PersistentBroker } from './helpers/persist-broker.js';
import { scanFrames } from '../src/broker/persistence/frame.js';

afterEach(cleanupPersistent);

/** A broker with one offline persistent subscriber on d/# and `n` acknowledged messages for it. */
async function withMessages(n: number, dir = tempDir()): Promise<PersistentBroker> {
  const b = await startPersistent(dir);
  const { client: sub } = await b.connect({ clientId: 'sub', clean: false });
  await sub.subscribe('d/#', 1);
  sub.disconnect();
  await sub.closed;
  const { client: pub } = await b.connect({ clientId: 'pub' });
  for (let i = 1; i <= n; i++) await publishQos1(pub, 'd/t', `m${i}`, i);
  return b;
}

const problems = (lines: string[]): string[] => lines.filter((l) => /^(Warning|Error)/.test(l));

describe('persistence: damaged files', () => {
  it('reports a torn last journal record and restores every record before it', async () => {
    const b1 = await withMessages(5);
    const copy = crashCopy(b1.dir);
    const journal = path.join(copy, 'mosquitto.db.journal');
    const whole = fs.readFileSync(journal);
    // Half of another record, as a write cut short by kill -9 leaves it.
    const { client: pub } = await b1.connect({ clientId: 'pub2' });
    await publishQos1(pub, 'd/t', 'm6', 1);
    const more = fs.readFileSync(path.join(b1.dir, 'mosquitto.db.journal')).subarray(whole.length);
    expect(more.length).toBeGreaterThan(8);
    fs.appendFileSync(journal, more.subarray(0, more.length - 5));

    const b2 = await startPersistent(copy);
    expect(problems(b2.lines)).toHaveLength(1);
    expect(problems(b2.lines)[0]).toMatch(/^Warning: Persistence journal .*mosquitto\.db\.journal is damaged at byte \d+ of \d+ \(a torn record\); restored the \d+ records before it\.$/);
    const { client } = await b2.connect({ clientId: 'sub', clean: false });
    const got = await receiveAll(client, 5);
    expect(got.map((p) => String(p.payload)).sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    // The torn tail is gone after the start-up snapshot: a second start is clean.
    await stopBroker(b2);
    const b3 = await startPersistent(copy);
    expect(problems(b3.lines)).toEqual([]);
  });

  it('reports a snapshot with a bad checksum, keeps it as .corrupt and starts with what precedes the damage', async () => {
    const dir = tempDir();
    const b1 = await withMessages(3, dir);
    const { client: pub } = await b1.connect({ clientId: 'pub2' });
    await publishQos1(pub, 'ret/a', 'A', 1, true);
    await stopBroker(b1);
    const file = path.join(dir, 'mosquitto.db');
    const data = fs.readFileSync(file);
    // Frames: header, the session 'sub' with its messages, the retained messages, END.
    const frameStarts: number[] = [];
    for (let pos = 0; pos < data.length; pos += 8 + data.readUInt32LE(pos)) frameStarts.push(pos);
    expect(frameStarts).toHaveLength(4);
    expect(scanFrames(data).problem).toBeUndefined();
    data[frameStarts[2] + 20] ^= 0xff;
    fs.writeFileSync(file, data);

    const b2 = await startPersistent(dir);
    const lines = problems(b2.lines);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Warning: Persistence file .*mosquitto\.db is damaged at byte \d+ of \d+ \(a bad checksum\); restored the \d+ records before it\.$/);
    expect(fs.readFileSync(`${file}.corrupt`)).toEqual(data);
    const { client } = await b2.connect({ clientId: 'sub', clean: false });
    expect((await receiveAll(client, 3)).map((p) => String(p.payload)).sort()).toEqual(['m1', 'm2', 'm3']);
    expect(b2.broker.retained.count).toBe(0);
  });

  it("refuses a file in another format (Mosquitto's own) with Mosquitto's line, and starts empty", async () => {
    const dir = tempDir();
    const mosq = Buffer.concat([Buffer.from([0x00, 0xb5, 0x00]), Buffer.from('mosquitto db'), Buffer.alloc(64, 7)]);
    fs.writeFileSync(path.join(dir, 'mosquitto.db'), mosq);
    const b = await startPersistent(dir);
    expect(problems(b.lines)).toEqual([
      `Error: Unable to restore persistent database. Unrecognised file format (${dir}/mosquitto.db).`,
    ]);
    expect(b.broker.sessions.size).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'mosquitto.db.corrupt'))).toEqual(mosq);
    // And it runs: a client connects and persistence works from here.
    const { client } = await b.connect({ clientId: 'x', clean: false });
    await client.subscribe('a', 1);
  });

  it('starts on random bytes and on an empty file', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'mosquitto.db'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)));
    fs.writeFileSync(path.join(dir, 'mosquitto.db.journal'), Buffer.alloc(0));
    const b = await startPersistent(dir);
    expect(problems(b.lines)).toHaveLength(1);
    await stopBroker(b);
    fs.writeFileSync(path.join(dir, 'mosquitto.db'), Buffer.alloc(0));
    const b2 = await startPersistent(dir);
    expect(problems(b2.lines)).toEqual(['Warning: Persistence file is empty.']);
  });
  it('a persistence_location that does not exist is reported and the broker runs', async () => {
    const dir = path.join(tempDir(), 'missing');
    const b = await startPersistent(dir);
    expect(problems(b.lines)).toEqual([`Error saving in-memory database, unable to open ${dir}/mosquitto.db.new for writing.`]);
    const { client } = await b.connect({ clientId: 'x', clean: false });
    await client.subscribe('a', 1);
    await publishQos1(client, 'a', 'still works', 1);
    expect(String((await client.nextPublish()).payload)).toBe('still works');
  });
});

describe('persistence: saving', () => {
  it('save() writes the snapshot and empties the journal; the snapshot alone restores', async () => {
    const b1 = await withMessages(4);
    const journal = path.join(b1.dir, 'mosquitto.db.journal');
    const before = fs.statSync(journal).size;
    b1.plugin.save();
    expect(b1.lines).toContain(`Saving in-memory database to ${b1.dir}/mosquitto.db.`);
    const after = fs.statSync(journal).size;
    expect(after).toBeLessThan(before);
    // Other clients' messages: readable by the broker's user only, as Mosquitto's file.
    expect(fs.statSync(path.join(b1.dir, 'mosquitto.db')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(journal).mode & 0o777).toBe(0o600);
    const copy = crashCopy(b1.dir);
    fs.rmSync(path.join(copy, 'mosquitto.db.journal'));
    const b2 = await startPersistent(copy);
    const { client } = await b2.connect({ clientId: 'sub', clean: false });
    expect((await receiveAll(client, 4)).map((p) => String(p.payload)).sort()).toEqual(['m1', 'm2', 'm3', 'm4']);
  });

  it('a journal left over from before the last snapshot is not replayed twice', async () => {
    const b1 = await withMessages(3);
    const oldJournal = fs.readFileSync(path.join(b1.dir, 'mosquitto.db.journal'));
    b1.plugin.save();
    const copy = crashCopy(b1.dir);
    // As if the broker died between renaming the snapshot and emptying the journal.
    fs.writeFileSync(path.join(copy, 'mosquitto.db.journal'), oldJournal);
    const b2 = await startPersistent(copy);
    expect(b2.broker.sessions.get('sub')!.queue.length).toBe(3);
  });

  it('autosave_on_changes saves after autosave_interval changes', async () => {
    const dir = tempDir();
    const b = await startPersistent(dir, { autosaveOnChanges: true, autosaveInterval: 3 });
    const { client } = await b.connect({ clientId: 's', clean: false });
    await client.subscribe([{ topic: 'a', qos: 1 }, { topic: 'b', qos: 1 }, { topic: 'c', qos: 1 }]);
    const line = `Saving in-memory database to ${dir}/mosquitto.db.`;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (b.lines.includes(line)) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
    const copy = crashCopy(dir);
    fs.rmSync(path.join(copy, 'mosquitto.db.journal'));
    const b2 = await startPersistent(copy);
    expect([...b2.broker.sessions.get('s')!.subscriptions.keys()].sort()).toEqual(['a', 'b', 'c']);
  });

  it('compacts a journal that outgrows its limit', async () => {
    const dir = tempDir();
    const b = await startPersistent(dir, {}, 1000);
    const { client: sub } = await b.connect({ clientId: 'sub', clean: false });
    await sub.subscribe('d/#', 1);
    const { client: pub } = await b.connect({ clientId: 'pub' });
    for (let i = 1; i <= 20; i++) await publishQos1(pub, 'd/t', 'x'.repeat(100), i);
    const journal = path.join(dir, 'mosquitto.db.journal');
    expect(fs.statSync(journal).size).toBeGreaterThan(1000);
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (fs.statSync(journal).size < 1000) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
    // Compaction is internal: no "Saving" line.
    expect(b.lines.some((l) => l.startsWith('Saving'))).toBe(false);
  });
});
