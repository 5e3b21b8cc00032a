export function isExecutable(file: string): boolean;
export function findOnPath(name: string, env?: NodeJS.ProcessEnv): string | undefined;
export function findPostgresBin(env?: NodeJS.ProcessEnv): string | undefined;
