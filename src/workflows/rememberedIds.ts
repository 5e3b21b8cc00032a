/**
 * The ids of the requests a workflow took lately (an Update's id, a signal's `requestId`), each with a
 * value (e.g. the sequence number of the event that took it), the oldest forgotten first. The API sends
 * a control as an Update and, when no worker took it in time, the same control as a signal with the
 * Update's id: whichever comes second finds its id here and changes nothing. Carried across
 * continue-as-new (`ids()`), with the value `carriedValue`. Workflow code: no I/O.
 */
export class RememberedIds<V> {
  private readonly taken: Map<string, V>;

  constructor(
    /** The most ids kept (the second of a pair comes soon after the first). */
    private readonly max: number,
    /** Ids the run before took: their events are that run's. */
    carried: readonly string[] = [],
    carriedValue?: V,
  ) {
    this.taken = new Map(carried.map((id) => [id, carriedValue as V]));
  }

  has(id: string | undefined): boolean {
    return id !== undefined && this.taken.has(id);
  }

  /** The value remembered with `id` (undefined: not taken). */
  get(id: string | undefined): V | undefined {
    return id === undefined ? undefined : this.taken.get(id);
  }

  remember(id: string | undefined, value: V): void {
    if (id === undefined) return;
    this.taken.set(id, value);
    if (this.taken.size > this.max) this.taken.delete(this.taken.keys().next().value!);
  }

  /** The ids, oldest first (for a new run's input). */
  ids(): string[] {
    return [...this.taken.keys()];
  }

  get size(): number {
    return this.taken.size;
  }
}
