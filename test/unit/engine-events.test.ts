// The engine's event bus: docker's message shape, the bounded replay ring, time values and filters.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EVENTS_LIMIT, EventBus, eventFilter, parseEventTime } from '../../src/engine/events.ts';

describe('engine events', () => {
  it('a container event carries the deprecated status/id/from fields; an image event status/id only', () => {
    const bus = new EventBus();
    const c = bus.log('container', 'die', 'abc', { image: 'busybox', name: 'web', exitCode: '3' });
    assert.deepEqual({ status: c.status, id: c.id, from: c.from, scope: c.scope }, { status: 'die', id: 'abc', from: 'busybox', scope: 'local' });
    assert.equal(c.time, Math.floor(c.timeNano / 1e9));
    const i = bus.log('image', 'pull', 'busybox:latest', { name: 'busybox' });
    assert.equal(i.from, undefined);
    assert.equal(i.status, 'pull');
    const v = bus.log('volume', 'create', 'v1');
    assert.equal(v.status, undefined);
  });

  it(`keeps the last ${EVENTS_LIMIT} events for replay, oldest dropped first`, () => {
    const bus = new EventBus();
    for (let n = 0; n < EVENTS_LIMIT + 10; n++) bus.log('container', 'start', String(n));
    const all = bus.recent(0);
    assert.equal(all.length, EVENTS_LIMIT);
    assert.equal(all[0]!.Actor.ID, '10');
  });

  it('parses docker\'s seconds.nanoseconds, and names the parameter of a bad one', () => {
    assert.equal(parseEventTime('1700000000.5', 'since'), 1700000000.5e9);
    assert.equal(parseEventTime('12', 'until'), 12e9);
    assert.equal(parseEventTime(null, 'since'), undefined);
    assert.throws(() => parseEventTime('10m', 'since'), /invalid value for "since": "10m"/);
  });

  it('filters by type, event (health_status prefix too), container name or id prefix, image with or without tag, label', () => {
    const bus = new EventBus();
    const e = bus.log('container', 'health_status: healthy', 'abcdef', { image: 'reg/busybox:1', name: 'web', tier: 'db' });
    assert.ok(eventFilter({ event: ['health_status'] })(e));
    assert.ok(eventFilter({ container: ['web'], type: ['container'] })(e));
    assert.ok(eventFilter({ container: ['abc'] })(e));
    assert.ok(!eventFilter({ container: ['other'] })(e));
    assert.ok(eventFilter({ image: ['reg/busybox'] })(e));
    assert.ok(eventFilter({ label: ['tier=db'] })(e));
    assert.ok(!eventFilter({ label: ['tier=web'] })(e));
    assert.ok(!eventFilter({ type: ['image'] })(e));
    assert.throws(() => eventFilter({ colour: ['red'] }), /invalid filter 'colour'/);
    assert.throws(() => eventFilter({ type: ['boat'] }), /invalid filter 'type=boat'/);
  });
});
