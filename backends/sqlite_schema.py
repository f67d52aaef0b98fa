"""The SQLite store's schema and its migrations (``PRAGMA user_version`` counts them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from tixcli.backends.sqlite_search import TOKENIZE, document

# "TIXL": tells a tixcli store apart from any other SQLite file at the same path.
APPLICATION_ID = 0x5449584C

# Each entry migrates from version i to i + 1; never edit one that has shipped.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE tickets (
        id INTEGER PRIMARY KEY,
        subject TEXT NOT NULL,
        description TEXT,
        status TEXT NOT NULL,
        priority TEXT,
        type TEXT,
        requester TEXT,
        assignee TEXT,
        grp TEXT,
        tags TEXT NOT NULL DEFAULT '[]',      -- JSON array
        cc TEXT NOT NULL DEFAULT '[]',        -- JSON array of ticket_cc's emails, sorted (for export)
        external_id TEXT,                     -- the dedupe key
        created_at TEXT NOT NULL,             -- ISO 8601, +00:00, sorts as text
        updated_at TEXT NOT NULL,
        solved_at TEXT,
        priority_rank INTEGER NOT NULL DEFAULT 4
    );
    -- One open ticket per dedupe key, even under concurrent creates.
    CREATE UNIQUE INDEX tickets_dedupe ON tickets(external_id)
        WHERE external_id IS NOT NULL AND status != 'closed';
    CREATE INDEX tickets_updated ON tickets(updated_at, id);
    CREATE INDEX tickets_created ON tickets(created_at, id);
    CREATE INDEX tickets_requester_updated ON tickets(requester, updated_at, id);
    CREATE INDEX tickets_status_updated ON tickets(status, updated_at, id);
    CREATE INDEX tickets_requester_status ON tickets(requester, status, updated_at, id);
    CREATE INDEX tickets_assignee ON tickets(assignee, updated_at) WHERE assignee IS NOT NULL;
    -- Finds solved tickets due for the automatic close without scanning.
    CREATE INDEX tickets_solved_due ON tickets(solved_at) WHERE status = 'solved';

    CREATE TABLE ticket_cc (
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        email TEXT NOT NULL,
        PRIMARY KEY (ticket_id, email)
    ) WITHOUT ROWID;

    CREATE TABLE comments (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        author TEXT,
        body TEXT NOT NULL,
        public INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        -- The comment's public JSON, attachments included, built once when it is written
        -- (comments never change): `export` then only concatenates text.
        json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX comments_ticket ON comments(ticket_id, id);

    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        comment_id INTEGER NOT NULL REFERENCES comments(id),
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        filename TEXT NOT NULL,
        size INTEGER NOT NULL,
        content_type TEXT,
        sha256 TEXT NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX attachments_ticket ON attachments(ticket_id, comment_id);

    -- Every change: who, when, what.
    CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        at TEXT NOT NULL,
        actor TEXT,
        action TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX history_ticket ON history(ticket_id, id);

    -- One search document per ticket: subject, description and every comment.
    CREATE VIRTUAL TABLE ticket_search USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
    """,
    # 2: an exact change order for `export --cursor` / `--state`, and the store's identity.
    """
    -- The store's identity, made once: an export state from another store is refused.
    CREATE TABLE meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        store_id TEXT NOT NULL
    );
    INSERT INTO meta (id, store_id) VALUES (1, lower(hex(randomblob(16))));

    -- Each ticket's last change: every write to a ticket (or its thread) moves the ticket to a new
    -- sequence number, larger than any handed out before (AUTOINCREMENT never reuses one). Writes
    -- are serialised, so a read snapshot holds every change up to its largest `seq`, and an export
    -- of `seq > N` gives exactly the changes after the snapshot that saw N.
    -- A table of its own (not a column of tickets): adding it rewrites no ticket, and the triggers
    -- below never write the table that fired them.
    -- (No REFERENCES: the triggers keep it, and a foreign key check per row would cost the
    -- migration a lookup of every ticket.)
    CREATE TABLE ticket_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ticket_id INTEGER NOT NULL
    );
    -- Existing tickets in the order they last changed (one-second times: the id breaks ties): rows
    -- go in in the SELECT's order, each with the next seq (1, 2, ...).
    INSERT INTO ticket_changes (ticket_id) SELECT id FROM tickets ORDER BY updated_at, id;
    CREATE UNIQUE INDEX ticket_changes_ticket ON ticket_changes(ticket_id);

    -- What an export shows of a ticket: its row and its comments (with their attachments, which
    -- are written before the comment's stored JSON). CCs are the cc column of the row. Plain
    -- DELETE + INSERT: no conflict clause an outer statement's OR IGNORE could override.
    CREATE TRIGGER tickets_changed_insert AFTER INSERT ON tickets BEGIN
        DELETE FROM ticket_changes WHERE ticket_id = NEW.id;
        INSERT INTO ticket_changes (ticket_id) VALUES (NEW.id);
    END;
    CREATE TRIGGER tickets_changed_update AFTER UPDATE ON tickets BEGIN
        DELETE FROM ticket_changes WHERE ticket_id = NEW.id;
        INSERT INTO ticket_changes (ticket_id) VALUES (NEW.id);
    END;
    CREATE TRIGGER comments_changed_insert AFTER INSERT ON comments BEGIN
        DELETE FROM ticket_changes WHERE ticket_id = NEW.ticket_id;
        INSERT INTO ticket_changes (ticket_id) VALUES (NEW.ticket_id);
    END;
    CREATE TRIGGER comments_changed_update AFTER UPDATE ON comments BEGIN
        DELETE FROM ticket_changes WHERE ticket_id IN (OLD.ticket_id, NEW.ticket_id);
        INSERT INTO ticket_changes (ticket_id) SELECT OLD.ticket_id WHERE OLD.ticket_id != NEW.ticket_id;
        INSERT INTO ticket_changes (ticket_id) VALUES (NEW.ticket_id);
    END;
    CREATE TRIGGER comments_changed_delete AFTER DELETE ON comments BEGIN
        DELETE FROM ticket_changes WHERE ticket_id = OLD.ticket_id;
        INSERT INTO ticket_changes (ticket_id) SELECT id FROM tickets WHERE id = OLD.ticket_id;
    END;
    -- (tixcli deletes no ticket; one deleted by hand leaves the export without a trace)
    CREATE TRIGGER tickets_changed_delete AFTER DELETE ON tickets BEGIN
        DELETE FROM ticket_changes WHERE ticket_id = OLD.id;
    END;
    """,
    # 3: search that finds words in every script (CJK, Thai...), and prefixes (sqlite_search.py).
    # Contentless: the old index kept a second copy of every subject and comment (559 MB of a 1M
    # ticket store). `fill_search_index` then indexes every ticket, a run of ids at a time.
    """
    DROP TABLE ticket_search;
    CREATE VIRTUAL TABLE ticket_words USING fts5(text, content = '', tokenize = "TOKENIZE");
    """.replace("TOKENIZE", TOKENIZE),
    # 4: how a ticket came in, and custom fields by name (no ticket is rewritten: ADD COLUMN with
    # a constant default). Tickets from before were all made through tixcli: channel cli.
    """
    ALTER TABLE tickets ADD COLUMN channel TEXT DEFAULT 'cli';
    ALTER TABLE tickets ADD COLUMN fields TEXT NOT NULL DEFAULT '{}';
    CREATE INDEX tickets_channel ON tickets(channel, updated_at, id);
    """,
    # 5: SLA clocks, escalations, satisfaction. A clock keeps when its cycle started, the seconds it
    # was paused (pending, hold) and since when it is paused, and when it was met; its target comes
    # from the profile's policy when it is read (a changed policy or priority moves it). Existing
    # tickets get clocks from what the store knows: the resolution clock from their creation (met
    # when solved), the first reply met by the first public comment of someone other than the
    # requester after the description.
    """
    CREATE TABLE ticket_sla (
        ticket_id INTEGER NOT NULL,
        metric TEXT NOT NULL,
        started_at TEXT NOT NULL,
        paused_s INTEGER NOT NULL DEFAULT 0,
        paused_since TEXT,
        met_at TEXT,
        PRIMARY KEY (ticket_id, metric)
    ) WITHOUT ROWID;
    INSERT INTO ticket_sla (ticket_id, metric, started_at, paused_since, met_at)
        SELECT id, 'resolution', created_at, CASE WHEN status IN ('pending', 'hold') THEN updated_at END,
            CASE WHEN status IN ('solved', 'closed') THEN coalesce(solved_at, updated_at) END
        FROM tickets;
    INSERT INTO ticket_sla (ticket_id, metric, started_at, paused_since, met_at)
        SELECT t.id, 'first_reply', t.created_at, CASE WHEN t.status IN ('pending', 'hold') THEN t.updated_at END,
            (SELECT min(c.created_at) FROM comments c WHERE c.ticket_id = t.id AND c.public
                AND c.author IS NOT t.requester AND c.id > (SELECT min(id) FROM comments WHERE ticket_id = t.id))
        FROM tickets t;
    CREATE TABLE escalations (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        stage TEXT NOT NULL,
        reason TEXT NOT NULL,
        eta TEXT,
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        timeline TEXT NOT NULL DEFAULT '[]'  -- JSON: [{stage, at}], oldest first
    );
    -- one open escalation a ticket
    CREATE UNIQUE INDEX escalations_open ON escalations(ticket_id) WHERE closed_at IS NULL;
    CREATE INDEX escalations_ticket ON escalations(ticket_id, id);
    ALTER TABLE tickets ADD COLUMN satisfaction TEXT;  -- JSON: {rating, comment, rated_at}
    """,
    # 6: each clock's target kept with it (seconds since the epoch and ISO 8601), set by the
    # profile's policy whenever the clock starts, pauses, resumes or the priority changes (as the
    # services apply an SLA policy on a ticket's update): a read compares, it computes nothing
    # (computed on every read, the clocks cost an export of 1M tickets 2.7 times its time).
    """
    ALTER TABLE ticket_sla ADD COLUMN target_s INTEGER;
    ALTER TABLE ticket_sla ADD COLUMN target_at TEXT;
    """,
]

# A clock's target from the policy (temp.sla_policy, the profile's): its start, plus the policy's
# seconds for the ticket's priority, plus the seconds it was paused (while paused: the target it
# had when it paused; the JSON shows none then).
SLA_TARGET_SQL = """UPDATE ticket_sla AS s SET target_s = unixepoch(s.started_at) + s.paused_s + coalesce(
    (SELECT p.seconds FROM temp.sla_policy p
        WHERE p.priority = coalesce((SELECT t.priority FROM tickets t WHERE t.id = s.ticket_id), 'default')
        AND p.metric = s.metric), 0)"""
SLA_TARGET_ISO_SQL = (
    "UPDATE ticket_sla SET target_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', target_s, 'unixepoch')"
)

# A migration's Python part, run after its SQL, in the same transaction: version -> step(db, progress)
# (`progress(done, total)` shows how far it is on a terminal).
SEARCH_FILL_CHUNK = 20_000
# One ticket's search document from the tables (sqlite_search.document, through tix_document):
# what the writes keep it as, so that the index can delete it again by this text.
SEARCH_DOCUMENT_SQL = (
    "tix_document(t.subject, (SELECT group_concat(body, char(10)) FROM "
    "(SELECT body FROM comments WHERE ticket_id = t.id ORDER BY id)))"
)


def fill_search_index(db: sqlite3.Connection, progress: Callable[[int, int], None]) -> None:
    db.create_function("tix_document", 2, _document_of, deterministic=True)
    total, top = db.execute("SELECT count(*), coalesce(max(id), 0) FROM tickets").fetchone()
    done = 0
    progress(0, total)
    for lo in range(0, top, SEARCH_FILL_CHUNK):
        cur = db.execute(
            f"INSERT INTO ticket_words (rowid, text) SELECT t.id, {SEARCH_DOCUMENT_SQL} FROM tickets t "
            "WHERE t.id > ? AND t.id <= ?",
            (lo, lo + SEARCH_FILL_CHUNK),
        )
        done += cur.rowcount
        progress(done, total)


def _document_of(subject: str | None, bodies: str | None) -> str:
    return document((subject, bodies))


def fill_sla_targets(db: sqlite3.Connection, progress: Callable[[int, int], None]) -> None:
    """Every clock's target by the policy of the profile that migrates (temp.sla_policy)."""
    db.execute(SLA_TARGET_SQL)
    db.execute(SLA_TARGET_ISO_SQL)


MIGRATION_STEPS: dict[int, Callable[[sqlite3.Connection, Callable[[int, int], None]], None]] = {
    3: fill_search_index,
    6: fill_sla_targets,
}

SCHEMA_VERSION = len(MIGRATIONS)
