export async function emptyActivity(): Promise<void> {}
