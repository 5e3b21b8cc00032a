export async function emptyActivity(): Promise<void> {}

/** When the activity ran (epoch ms): the burst baseline measures up to here. */
export async function stampActivity(): Promise<number> {
  return Date.now();
}
