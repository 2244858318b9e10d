import type { App } from '../../src/app.js';
import { createAuditRepo, type AuditRecord } from '../../src/store/audit.repo.js';

/**
 * Writes an audit row straight to the trail, the way another version (or a hostile input) could have
 * left it: `audit.record` only takes the types this version records (issue #17), the pages and the
 * API must still show any stored row safely.
 */
export const storeAuditRow = (app: App, row: AuditRecord): Promise<void> => createAuditRepo(app.stores.db).append(row);
