// Imported by workflow code: only @temporalio/common here.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const JobStatusKey = defineSearchAttributeKey('JobStatus', SearchAttributeType.KEYWORD);
export const JobPriorityKey = defineSearchAttributeKey('JobPriority', SearchAttributeType.INT);
export const JobTypeKey = defineSearchAttributeKey('JobType', SearchAttributeType.KEYWORD);
export const BatchIdKey = defineSearchAttributeKey('BatchId', SearchAttributeType.KEYWORD);
export const OwnerKey = defineSearchAttributeKey('Owner', SearchAttributeType.KEYWORD);
export const JobNameKey = defineSearchAttributeKey('JobName', SearchAttributeType.TEXT);
export const BatchStatusKey = defineSearchAttributeKey('BatchStatus', SearchAttributeType.KEYWORD);

/** The project's custom search attributes, as `temporal server start-dev --search-attribute` takes them. */
export const CUSTOM_SEARCH_ATTRIBUTES = [
  { name: 'JobStatus', type: 'Keyword' },
  { name: 'JobPriority', type: 'Int' },
  { name: 'JobType', type: 'Keyword' },
  { name: 'BatchId', type: 'Keyword' },
  { name: 'Owner', type: 'Keyword' },
  { name: 'JobName', type: 'Text' },
  { name: 'BatchStatus', type: 'Keyword' },
] as const;
