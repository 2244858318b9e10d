import type { Knex } from 'knex';

/**
 * Something written in the same transaction as a change (issue #17: the notice of a change goes to the
 * outbox with the change itself, so a crash leaves both or neither). A repository method that makes a
 * change takes one as its last argument and calls it, with what the change returned, only when the
 * change took effect (a removal that found nothing notifies nothing).
 */
export type AlsoInTransaction<R = void> = (trx: Knex.Transaction, result: R) => Promise<void>;

/**
 * Runs a single-statement change on `db`, or, with `also`, in a transaction together with `also`.
 * `tookEffect` says whether the change happened (e.g. a row was updated).
 */
export async function changeWith<T>(db: Knex, also: AlsoInTransaction<T> | undefined, change: (q: Knex) => Promise<T>, tookEffect: (result: T) => boolean): Promise<T> {
  if (!also) return change(db);
  return db.transaction(async (trx) => {
    const result = await change(trx);
    if (tookEffect(result)) await also(trx, result);
    return result;
  });
}
