// The project's custom search attributes, as data. Workflow code imports this file, so it may import
// from @temporalio/common only: no node: modules, nothing that touches the file system or network.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** A typed search attribute key (the SDK's SearchAttributeKey, which its index does not export). */
export type SearchAttributeKey<T extends SearchAttributeType = SearchAttributeType> = ReturnType<
  typeof defineSearchAttributeKey<T>
>;

/** Job lifecycle state (`pending`, `running`, `paused`, `completed`, …). */
export const JobStatusKey = defineSearchAttributeKey('JobStatus', SearchAttributeType.KEYWORD);
/** Job priority; lower runs first, as Temporal's priorityKey. */
export const JobPriorityKey = defineSearchAttributeKey('JobPriority', SearchAttributeType.INT);
/** Registered job type (`sleep`, …). */
export const JobTypeKey = defineSearchAttributeKey('JobType', SearchAttributeType.KEYWORD);
/** Batch the job belongs to, if any. */
export const BatchIdKey = defineSearchAttributeKey('BatchId', SearchAttributeType.KEYWORD);
/** User who submitted the job. */
export const OwnerKey = defineSearchAttributeKey('Owner', SearchAttributeType.KEYWORD);
/** Human-readable job name (full-text searchable). */
export const JobNameKey = defineSearchAttributeKey('JobName', SearchAttributeType.TEXT);
/** Aggregate state of a batch workflow. */
export const BatchStatusKey = defineSearchAttributeKey('BatchStatus', SearchAttributeType.KEYWORD);

/** Every custom search attribute key, typed (e.g. for TestWorkflowEnvironment's `searchAttributes`). */
export const CUSTOM_SEARCH_ATTRIBUTE_KEYS = [
  JobStatusKey,
  JobPriorityKey,
  JobTypeKey,
  BatchIdKey,
  OwnerKey,
  JobNameKey,
  BatchStatusKey,
] as const satisfies readonly SearchAttributeKey<SearchAttributeType>[];

/** Type names as the `temporal` CLI takes them (`--search-attribute Name=Type`, `operator search-attribute create --type`). */
export type SearchAttributeCliType = 'Text' | 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

const CLI_TYPE: Record<SearchAttributeType, SearchAttributeCliType> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** The CLI's name of an SDK search attribute type (`KEYWORD` → `Keyword`). */
export function searchAttributeCliType(type: SearchAttributeType): SearchAttributeCliType {
  return CLI_TYPE[type];
}

export interface CustomSearchAttribute {
  /** Attribute name, as used in visibility queries (`JobStatus="running"`). */
  name: string;
  /** Type as the `temporal` CLI spells it. */
  type: SearchAttributeCliType;
  /** The typed key for `upsertSearchAttributes` / `typedSearchAttributes`. */
  key: SearchAttributeKey<SearchAttributeType>;
}

/** The project's custom search attributes: name + CLI type (+ typed key). */
export const CUSTOM_SEARCH_ATTRIBUTES: readonly CustomSearchAttribute[] = CUSTOM_SEARCH_ATTRIBUTE_KEYS.map((key) => ({
  name: key.name,
  type: searchAttributeCliType(key.type),
  key,
}));

/** `--search-attribute Name=Type` pairs, as `temporal server start-dev` takes them. */
export function searchAttributeFlags(): string[] {
  return CUSTOM_SEARCH_ATTRIBUTES.flatMap(({ name, type }) => ['--search-attribute', `${name}=${type}`]);
}
