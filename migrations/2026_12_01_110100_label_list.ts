import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * Case labels become a fourth configurable list ('label'), defined by
 * administrators; reports.labels holds the items' codes. Caseworkers used to
 * type labels freely, in plaintext: one typed name of a person would sit
 * unencrypted in the database. Now they can only choose what an
 * administrator has defined.
 *
 * Nothing is lost silently: each distinct label already in use becomes an
 * item of the list, its text as the English label, under an opaque code
 * (label_1, label_2 …, in alphabetical order of the text), and every report
 * is rewritten to those codes, in the same order. The codes say nothing
 * about the text, so renaming an item removes its old text from the
 * database altogether.
 *
 * An ADMINISTRATOR SHOULD REVIEW THE LABEL LIST after this migration and
 * rename, then retire, any label that names a person or otherwise
 * identifies someone: those were typed before labels were restricted.
 *
 * The queue's label filter keeps using the GIN index on reports.labels
 * (containment of a code); the partial index reports_labels_list now
 * serves the settings page's usage count per label.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ label: string }>`select distinct unnest(labels) as label from reports`.execute(db);
  const texts = rows.map((r) => r.label).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [i, text] of texts.entries()) {
    await sql`insert into list_items (list, code, position, labels)
      values ('label', ${`label_${i + 1}`}, ${i}, jsonb_build_object('en', ${text}::text))`.execute(db);
  }
  await sql`update reports r set labels = array(
      select li.code from unnest(r.labels) with ordinality as u(text, n)
        join list_items li on li.list = 'label' and li.labels ->> 'en' = u.text
       order by u.n)
    where r.labels <> '{}'`.execute(db);
}

/** Back to the English text of each code (what the list says now, renamed or not). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`update reports r set labels = array(
      select coalesce(li.labels ->> 'en', u.code) from unnest(r.labels) with ordinality as u(code, n)
        left join list_items li on li.list = 'label' and li.code = u.code
       order by u.n)
    where r.labels <> '{}'`.execute(db);
  await sql`delete from list_items where list = 'label'`.execute(db);
}
