import { describe, expect, it } from 'vitest';
import { PoolGrantWaiters } from '../../src/activities/poolGrantWaiters.js';

describe('PoolGrantWaiters', () => {
  it('a waiting job is told by the pick (no signal needed); one not waiting is not', async () => {
    const waiters = new PoolGrantWaiters();
    const ticket = waiters.register('job_a', 'gpu')!;
    const answer = ticket.wait(5_000);
    expect(waiters.tell('job_a', 'gpu')).toBe(true);
    await expect(answer).resolves.toBe('granted');
    expect(ticket.granted).toBe(true);
    expect(waiters.size).toBe(0);
    // Its wait is over: a second pick of it (a retried pick) must signal it.
    expect(waiters.tell('job_a', 'gpu')).toBe(false);
    expect(waiters.tell('job_never_waited', 'gpu')).toBe(false);
  });

  it('a grant of another place in line (an old pick answered again) is not this wait', async () => {
    const waiters = new PoolGrantWaiters();
    const ticket = waiters.register('job_a', 'gpu')!;
    ticket.place(42);
    expect(waiters.tell('job_a', 'gpu', 17)).toBe(false);
    expect(waiters.tell('job_a', 'gpu', 42)).toBe(true);
    await expect(ticket.wait(5_000)).resolves.toBe('granted');
  });

  it('a grant of another pool is not this wait', () => {
    const waiters = new PoolGrantWaiters();
    const ticket = waiters.register('job_a', 'gpu')!;
    expect(waiters.tell('job_a', 'default')).toBe(false);
    expect(ticket.granted).toBe(false);
    ticket.cancel();
  });

  it('told before it waits (while it looked at the record): the wait answers granted at once', async () => {
    const waiters = new PoolGrantWaiters();
    const ticket = waiters.register('job_a', 'gpu')!;
    expect(waiters.tell('job_a', 'gpu')).toBe(true);
    await expect(ticket.wait(5_000)).resolves.toBe('granted');
  });

  it('times out, and is then no longer waiting (the grant goes by signal)', async () => {
    const waiters = new PoolGrantWaiters();
    const ticket = waiters.register('job_a', 'gpu')!;
    await expect(ticket.wait(20)).resolves.toBe('timeout');
    expect(waiters.size).toBe(0);
    expect(waiters.tell('job_a', 'gpu')).toBe(false);
  });

  it('lets only so many wait at once, and a job only once', () => {
    const waiters = new PoolGrantWaiters({ maxWaiting: 2 });
    const a = waiters.register('job_a', 'gpu');
    expect(a).toBeDefined();
    expect(waiters.register('job_a', 'gpu')).toBeUndefined();
    const b = waiters.register('job_b', 'gpu');
    expect(b).toBeDefined();
    expect(waiters.register('job_c', 'gpu')).toBeUndefined();
    a!.cancel();
    expect(waiters.register('job_c', 'gpu')).toBeDefined();
  });

  it('nobody waits in a pool whose last pick left others in line, until a pick serves its whole line', () => {
    const waiters = new PoolGrantWaiters();
    waiters.notePick('gpu', true);
    expect(waiters.register('job_a', 'gpu')).toBeUndefined();
    expect(waiters.register('job_b', 'default')).toBeDefined();
    waiters.notePick('gpu', false);
    expect(waiters.register('job_a', 'gpu')).toBeDefined();
  });

  it('knows a pool whose last pick left no slot free, until one leaves a slot free', () => {
    const waiters = new PoolGrantWaiters();
    expect(waiters.isFull('gpu')).toBe(false);
    waiters.notePick('gpu', false, true);
    expect(waiters.isFull('gpu')).toBe(true);
    expect(waiters.isFull('default')).toBe(false);
    expect(waiters.register('job_a', 'gpu')).toBeDefined(); // registered: a pick in the same tick still finds it
    waiters.notePick('gpu', false, false);
    expect(waiters.isFull('gpu')).toBe(false);
  });

  it('a control ends the wait, unless the job was told already', async () => {
    const waiters = new PoolGrantWaiters();
    const a = waiters.register('job_a', 'gpu')!;
    const answer = a.wait(5_000);
    waiters.interrupt('job_a');
    await expect(answer).resolves.toBe('timeout');
    expect(waiters.tell('job_a', 'gpu')).toBe(false); // signalled instead

    const b = waiters.register('job_b', 'gpu')!;
    expect(waiters.tell('job_b', 'gpu')).toBe(true);
    waiters.interrupt('job_b');
    await expect(b.wait(5_000)).resolves.toBe('granted');

    // Registered, not waiting yet (its task still looks at the record): its wait ends as it starts,
    // unless the pick tells it first.
    const c = waiters.register('job_c', 'gpu')!;
    waiters.interrupt('job_c');
    await expect(c.wait(5_000)).resolves.toBe('timeout');
    const d = waiters.register('job_d', 'gpu')!;
    waiters.interrupt('job_d');
    expect(waiters.tell('job_d', 'gpu')).toBe(true);
    await expect(d.wait(5_000)).resolves.toBe('granted');
  });

  it('a job a control was just sent to does not start a wait (the control would wait for it)', () => {
    const waiters = new PoolGrantWaiters();
    waiters.interrupt('job_a');
    expect(waiters.register('job_a', 'gpu')).toBeUndefined();
    expect(waiters.register('job_b', 'gpu')).toBeDefined();
  });
});
