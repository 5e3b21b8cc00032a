/**
 * ApplicationFailure types of the store's activities that workflows react to. A module without
 * imports, so workflow code can use it (workflows may not import activity or store code).
 */

/** An append whose event id is taken by a different event (another type or stream). Not retried:
 * retrying the same call can never succeed. Details: `[{ eventId }]`. */
export const EVENT_ID_CONFLICT = 'EventIdConflict';
