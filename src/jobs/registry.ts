import { DEFAULT_RETRY, type JobPlan, type JobTypeDefinition, type Submitter } from './jobType.js';
import { builtinJobTypes } from './builtins.js';

export class UnknownJobTypeError extends Error {
  override readonly name = 'UnknownJobTypeError';
  constructor(
    readonly jobType: string,
    known: string[],
  ) {
    super(`Unknown job type: ${jobType} (known: ${known.join(', ')})`);
  }
}

export class InvalidJobInputError extends Error {
  override readonly name = 'InvalidJobInputError';
  constructor(
    readonly jobType: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(`Invalid input for job type ${jobType}: ${issues.map((i) => `${i.path || '(input)'}: ${i.message}`).join('; ')}`);
  }
}

/** The job types a deployment knows. API and worker must share one (the API validates and plans with
 * it, the worker runs its handlers). */
export class JobTypeRegistry {
  private readonly types = new Map<string, JobTypeDefinition>();

  constructor(types: JobTypeDefinition[] = builtinJobTypes) {
    for (const type of types) this.register(type);
  }

  register(type: JobTypeDefinition): this {
    this.types.set(type.name, type);
    return this;
  }

  get(name: string): JobTypeDefinition {
    const type = this.types.get(name);
    if (!type) throw new UnknownJobTypeError(name, this.names());
    return type;
  }

  has(name: string): boolean {
    return this.types.has(name);
  }

  names(): string[] {
    return [...this.types.keys()];
  }

  /** The type a submit that names none goes to: the first that claims its input, if any. */
  typeForUntyped(input: unknown): string | undefined {
    for (const type of this.types.values()) if (type.claimsUntypedInput?.(input)) return type.name;
    return undefined;
  }

  /** Validates input against the type's schema (defaults applied) and plans the job. With a submitter,
   * the type's authorizeInput runs too (InputAccessDeniedError). */
  prepare(name: string, rawInput: unknown, submitter?: Submitter): { input: unknown; plan: JobPlan } {
    const type = this.get(name);
    const parsed = type.inputSchema.safeParse(rawInput ?? {});
    if (!parsed.success) {
      throw new InvalidJobInputError(
        name,
        parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
      );
    }
    if (submitter) type.authorizeInput?.(parsed.data, submitter);
    const totalSteps = type.steps(parsed.data);
    return {
      input: parsed.data,
      plan: {
        totalSteps: Math.max(1, Math.floor(totalSteps)),
        retry: { ...DEFAULT_RETRY, ...type.retry },
        stepTimeoutMs: type.stepTimeoutMs ?? 60 * 60_000,
        heartbeatTimeoutMs: type.heartbeatTimeoutMs ?? 5_000,
        ...(type.pool ? { pool: type.pool } : {}),
        ...(type.weight ? { weight: type.weight } : {}),
      },
    };
  }
}
