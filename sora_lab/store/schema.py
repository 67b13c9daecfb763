"""Versioned DuckDB schema for a lab home.

Each migration is a list of SQL statements applied once, in order, inside one
transaction; `schema_version` records which ones ran. Add a migration by
appending to MIGRATIONS — never edit one that has shipped.

Conventions: ids are strings, time is UTC (`TIMESTAMP` columns hold UTC wall
time), counts and money are integers.
"""

from sora_lab.store.migrations import MIGRATION_12, MIGRATION_13

MIGRATION_1 = [
    """
    CREATE TABLE users (
        user_id      VARCHAR PRIMARY KEY,
        handle       VARCHAR NOT NULL UNIQUE,      -- without the leading @
        display_name VARCHAR,
        region       VARCHAR NOT NULL,             -- ISO 3166-1 alpha-2, e.g. 'US'
        created_at   TIMESTAMP NOT NULL,
        redeemed_at  TIMESTAMP,                    -- NULL: account exists but has no access yet
        invited_by   VARCHAR,                      -- user_id of the inviter
        invites_left INTEGER NOT NULL,
        token_hash   VARCHAR UNIQUE,               -- sha256 of the bearer token
        is_admin     BOOLEAN NOT NULL DEFAULT false
    )
    """,
    """
    CREATE TABLE invites (
        code        VARCHAR PRIMARY KEY,
        inviter_id  VARCHAR,                       -- NULL for codes minted by an admin
        created_at  TIMESTAMP NOT NULL,
        redeemed_by VARCHAR,
        redeemed_at TIMESTAMP
    )
    """,
    """
    CREATE TABLE follows (
        follower_id VARCHAR NOT NULL,
        followee_id VARCHAR NOT NULL,
        created_at  TIMESTAMP NOT NULL,
        PRIMARY KEY (follower_id, followee_id)
    )
    """,
    """
    CREATE TABLE cameos (
        cameo_id       VARCHAR PRIMARY KEY,
        owner_id       VARCHAR NOT NULL,
        handle         VARCHAR NOT NULL UNIQUE,    -- without the leading @
        kind           VARCHAR NOT NULL,           -- 'person' | 'character'
        reference_path VARCHAR,                    -- cropped reference image, relative to the lab home
        permission     VARCHAR NOT NULL,           -- 'only_me' | 'approved' | 'mutuals' | 'everyone'
        restrictions   VARCHAR[] NOT NULL DEFAULT [],
        created_at     TIMESTAMP NOT NULL,
        deleted_at     TIMESTAMP
    )
    """,
    """
    CREATE TABLE cameo_grants (
        cameo_id   VARCHAR NOT NULL,
        grantee_id VARCHAR NOT NULL,
        granted_at TIMESTAMP NOT NULL,
        PRIMARY KEY (cameo_id, grantee_id)
    )
    """,
    """
    CREATE TABLE videos (
        video_id     VARCHAR PRIMARY KEY,          -- content id: sha256 prefix of the MP4 bytes
        author_id    VARCHAR NOT NULL,
        prompt       VARCHAR NOT NULL,
        seed         BIGINT NOT NULL,
        backend      VARCHAR NOT NULL,
        model        VARCHAR NOT NULL,
        duration_ms  INTEGER NOT NULL,
        width        INTEGER NOT NULL,
        height       INTEGER NOT NULL,
        media_path   VARCHAR NOT NULL,             -- relative to the lab home
        poster_path  VARCHAR,
        provenance   JSON,
        status       VARCHAR NOT NULL,             -- 'draft' | 'published' | 'removed'
        parent_id    VARCHAR,                      -- remix lineage
        created_at   TIMESTAMP NOT NULL,
        published_at TIMESTAMP
    )
    """,
    """
    CREATE TABLE video_cameos (
        video_id VARCHAR NOT NULL,
        cameo_id VARCHAR NOT NULL,
        PRIMARY KEY (video_id, cameo_id)
    )
    """,
    """
    CREATE TABLE rights_holders (
        holder_id  VARCHAR PRIMARY KEY,
        name       VARCHAR NOT NULL UNIQUE,
        created_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE rights_policies (
        policy_id   VARCHAR PRIMARY KEY,
        holder_id   VARCHAR NOT NULL,
        ip_name     VARCHAR NOT NULL,
        aliases     VARCHAR[] NOT NULL DEFAULT [],
        description VARCHAR,
        policy      VARCHAR NOT NULL,              -- 'block' | 'allow' | 'allow_with_attribution'
        attribution VARCHAR,
        created_at  TIMESTAMP NOT NULL
    )
    """,
    # Current like state (events keep the history of like/unlike).
    """
    CREATE TABLE likes (
        user_id    VARCHAR NOT NULL,
        video_id   VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (user_id, video_id)
    )
    """,
    """
    CREATE TABLE comments (
        comment_id VARCHAR PRIMARY KEY,
        video_id   VARCHAR NOT NULL,
        user_id    VARCHAR NOT NULL,
        text       VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL
    )
    """,
    # Append-only. No primary key on purpose: bulk ingest of tens of millions
    # of rows stays fast; idempotency for client-sent events lives in
    # client_events below.
    """
    CREATE TABLE events (
        ts        TIMESTAMP NOT NULL,              -- UTC
        user_id   VARCHAR,                         -- NULL for anonymous installs before sign-up
        type      VARCHAR NOT NULL,                -- see sora_lab.store.events.EVENT_TYPES
        video_id  VARCHAR,
        target_id VARCHAR,                         -- followee, invite code, cameo id, ...
        region    VARCHAR,
        watch_ms  INTEGER,                         -- views only
        source    VARCHAR NOT NULL DEFAULT 'live', -- 'live', 'sim:<scenario>', 'import'
        props     JSON
    )
    """,
    """
    CREATE TABLE client_events (
        client_event_id VARCHAR PRIMARY KEY,
        user_id         VARCHAR NOT NULL,
        received_at     TIMESTAMP NOT NULL
    )
    """,
    # Published or user-supplied daily series (downloads, DAU, ...) kept
    # beside the simulation for comparison.
    """
    CREATE TABLE external_series (
        day    DATE NOT NULL,
        app    VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        value  BIGINT NOT NULL,
        source VARCHAR NOT NULL,
        PRIMARY KEY (day, app, metric, source)
    )
    """,
    """
    CREATE TABLE settings (
        key   VARCHAR PRIMARY KEY,
        value JSON NOT NULL
    )
    """,
]

# Feed (issue 6): per-video engagement aggregates kept incrementally by
# sora_lab.feed.engagement, prompt embeddings cached once per distinct prompt,
# per-user taste vectors, viewer blocks, and ranked feed sessions that signed
# cursors page through by position (keyset), so new videos never reorder a scroll.
MIGRATION_2 = [
    "CREATE SEQUENCE feed_session_seq START 1",
    """
    CREATE TABLE feed_video_stats (
        video_id       VARCHAR PRIMARY KEY,
        author_id      VARCHAR NOT NULL,
        prompt_key     VARCHAR NOT NULL,          -- left(sha256(prompt), 16) -> feed_prompt_embeddings
        parent_id      VARCHAR,
        duration_ms    INTEGER NOT NULL,
        published_at   TIMESTAMP NOT NULL,
        views          BIGINT NOT NULL DEFAULT 0,
        watch_throughs BIGINT NOT NULL DEFAULT 0, -- views that watched >= 90% of the clip
        likes          BIGINT NOT NULL DEFAULT 0, -- current likes (likes table)
        shares         BIGINT NOT NULL DEFAULT 0,
        remixes        BIGINT NOT NULL DEFAULT 0, -- published videos whose parent_id is this one
        comments       BIGINT NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE TABLE feed_prompt_embeddings (
        prompt_key VARCHAR PRIMARY KEY,
        embedding  FLOAT[384] NOT NULL             -- unit-length MiniLM vector of the prompt
    )
    """,
    """
    CREATE TABLE feed_user_taste (
        user_id VARCHAR PRIMARY KEY,
        weight  DOUBLE NOT NULL,                   -- total weight of the engagements summed in vec
        vec     FLOAT[384] NOT NULL                -- weighted sum of prompt embeddings
    )
    """,
    """
    CREATE TABLE feed_blocks (
        user_id    VARCHAR NOT NULL,               -- the viewer
        blocked_id VARCHAR NOT NULL,               -- an author the viewer never wants to see
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (user_id, blocked_id)
    )
    """,
    """
    CREATE TABLE feed_sessions (
        session_no  BIGINT PRIMARY KEY,
        user_id     VARCHAR NOT NULL,
        created_at  TIMESTAMP NOT NULL,
        snapshot_at TIMESTAMP NOT NULL,            -- only videos published before this are ranked
        steer       VARCHAR,
        ranked      INTEGER NOT NULL,              -- positions filled so far (0..ranked-1)
        exhausted   BOOLEAN NOT NULL
    )
    """,
    """
    CREATE TABLE feed_session_items (
        session_no BIGINT NOT NULL,
        pos        INTEGER NOT NULL,               -- < 0: seen in an earlier session this one continues
        video_id   VARCHAR NOT NULL,
        score      DOUBLE NOT NULL,
        reasons    VARCHAR[] NOT NULL,
        PRIMARY KEY (session_no, pos)
    )
    """,
]

# Cameos and consent (issue 5): per-person revocations that hold even under
# 'mutuals'/'everyone', owner removals of a video's use of a cameo, one-time
# liveness challenges for video uploads, and which cameo is a public figure's own.
MIGRATION_3 = [
    """
    CREATE TABLE cameo_blocks (
        cameo_id   VARCHAR NOT NULL,
        user_id    VARCHAR NOT NULL,               -- revoked person: may not use the cameo at any permission level
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (cameo_id, user_id)
    )
    """,
    """
    CREATE TABLE cameo_removed_uses (
        cameo_id   VARCHAR NOT NULL,
        video_id   VARCHAR NOT NULL,
        removed_by VARCHAR NOT NULL,               -- the cameo owner
        removed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (cameo_id, video_id)
    )
    """,
    """
    CREATE TABLE cameo_challenges (
        challenge_id VARCHAR PRIMARY KEY,
        user_id      VARCHAR NOT NULL,
        phrase       VARCHAR NOT NULL,             -- words and digits to say on camera
        issued_at    TIMESTAMP NOT NULL,
        expires_at   TIMESTAMP NOT NULL,
        used_at      TIMESTAMP
    )
    """,
    """
    CREATE TABLE public_figure_cameos (
        figure    VARCHAR PRIMARY KEY,             -- registry name, e.g. 'Sam Altman'
        cameo_id  VARCHAR NOT NULL,                -- that person's own cameo
        linked_at TIMESTAMP NOT NULL
    )
    """,
]

# Feed: what a clip card shows (author, prompt, media paths, cameo handles) is
# fixed when the session is ranked and stored with the position, so reading the
# next page touches only the session and a few primary-key lookups for live state.
MIGRATION_4 = [
    "ALTER TABLE feed_session_items ADD COLUMN card VARCHAR",  # JSON object
]

# Feed: "did this viewer like these clips?" on every page. DuckDB answers an IN
# list from a single-column primary key by index, but scans for the composite
# key of `likes`; this mirror (user_id:video_id), kept by sora_lab.feed.engagement,
# turns the check into index lookups at any lab size.
MIGRATION_5 = [
    "CREATE TABLE feed_like_keys (like_key VARCHAR PRIMARY KEY)",  # user_id || ':' || video_id
    "INSERT INTO feed_like_keys SELECT user_id || ':' || video_id FROM likes",
]

# metric_users' day-bit columns as migrations 6 and 7 build them (frozen; the live copy is sora_lab.metrics.rollup).
_FROZEN_KINDS = {
    "all": "TRUE", "act": "type IN ('session_start', 'view', 'like', 'share', 'remix', 'comment', 'generate')",
    "ins": "type = 'install'", "red": "type = 'invite_redeemed'", "vw": "type = 'view'", "gen": "type = 'generate'",
    "cam": "type = 'cameo_created'",
}
_FROZEN_DAY_BITS = ",\n".join(
    f"bit_or(bit) FILTER (WHERE {pred} AND hi = {w}) AS {kind}{w}"
    for kind, pred in _FROZEN_KINDS.items()
    for w in (0, 1)
)


def _m6_users_select(relation: str) -> str:
    """Migration 6's per-user rollup query (frozen here; sora_lab.metrics.rollup.users_sql is the live copy)."""
    return f"""
        SELECT source, region, ukey,
               min(us) FILTER (WHERE type = 'invite_redeemed' AND inviter IS NOT NULL) AS inviter_us,
               arg_min(inviter, us) FILTER (WHERE type = 'invite_redeemed' AND inviter IS NOT NULL) AS inviter,
               {_FROZEN_DAY_BITS}
        FROM (
            SELECT r.source, r.region, r.ukey, r.type, r.inviter, epoch_us(r.ts) AS us,
                   CAST(1 AS UBIGINT) << CAST((CAST(r.ts AS DATE) - DATE '1970-01-01' - s.base_day) % 64 AS UBIGINT)
                       AS bit,
                   (CAST(r.ts AS DATE) - DATE '1970-01-01' - s.base_day) // 64 AS hi
            FROM {relation} r JOIN metric_sources s USING (source)
            WHERE r.ukey IS NOT NULL
        )
        GROUP BY source, region, ukey
    """


_M6_EVENTS = """(
    SELECT e.source, k.ukey, e.ts, e.type, e.region, t.ukey AS inviter
    FROM events e
    LEFT JOIN metric_user_keys k ON k.user_id = e.user_id
    LEFT JOIN metric_user_keys t ON e.type = 'invite_redeemed' AND t.user_id = e.target_id
    WHERE e.source IN (SELECT source FROM metric_sources)
)"""

# Metrics (issue 7 follow-up): a per-user rollup of bulk-written simulated sources, so a growth summary
# over 100 M events reads ~one row per user instead of grouping every event by user. Kept by
# sora_lab.metrics.rollup (rebuilt with a source's events in one transaction); this migration backfills
# it for the sim:* sources already stored. 'live' stays on the raw-event path (see rollup.py for why).
MIGRATION_6 = [
    "CREATE TABLE metric_user_keys (user_id VARCHAR NOT NULL, ukey BIGINT NOT NULL)",
    """
    CREATE TABLE metric_sources (
        source   VARCHAR PRIMARY KEY,
        base_day INTEGER NOT NULL,                 -- UTC days since 1970-01-01 of the first event; bit 0
        last_day INTEGER NOT NULL,
        events   BIGINT NOT NULL,                  -- events of the source when built (staleness guard)
        built_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE metric_users (
        source     VARCHAR NOT NULL,
        region     VARCHAR,
        ukey       BIGINT NOT NULL,                -- metric_user_keys.ukey
        inviter_us BIGINT,                         -- epoch µs of the first invite_redeemed naming an inviter
        inviter    BIGINT,                         -- that inviter's ukey
        all0 UBIGINT, all1 UBIGINT,                -- day bits from base_day: any event
        act0 UBIGINT, act1 UBIGINT,                -- active (see sora_lab.metrics.queries)
        ins0 UBIGINT, ins1 UBIGINT,                -- install
        red0 UBIGINT, red1 UBIGINT,                -- invite_redeemed
        vw0  UBIGINT, vw1  UBIGINT,                -- view
        gen0 UBIGINT, gen1 UBIGINT,                -- generate
        cam0 UBIGINT, cam1 UBIGINT                 -- cameo_created
    )
    """,
    """
    CREATE TABLE metric_daily (
        source    VARCHAR NOT NULL,
        region    VARCHAR,
        day       INTEGER NOT NULL,                -- UTC days since 1970-01-01
        type      VARCHAR NOT NULL,
        n         BIGINT NOT NULL,
        anonymous BIGINT NOT NULL                  -- of which user_id IS NULL
    )
    """,
    """
    INSERT INTO metric_sources
    SELECT source, min(day), max(day), count(*), now()::TIMESTAMP
    FROM (SELECT source, CAST(ts AS DATE) - DATE '1970-01-01' AS day FROM events WHERE source LIKE 'sim:%')
    GROUP BY source HAVING max(day) - min(day) < 128
    """,
    """
    INSERT INTO metric_user_keys
    SELECT user_id, row_number() OVER () - 1
    FROM (
        SELECT DISTINCT user_id FROM (
            SELECT user_id FROM events
            WHERE user_id IS NOT NULL AND source IN (SELECT source FROM metric_sources)
            UNION ALL
            SELECT target_id FROM events
            WHERE type = 'invite_redeemed' AND target_id IS NOT NULL AND source IN (SELECT source FROM metric_sources)
        )
    )
    """,
    f"""
    INSERT INTO metric_daily
    SELECT source, region, CAST(ts AS DATE) - DATE '1970-01-01' AS day, type,
           count(*) AS n, count(*) FILTER (WHERE ukey IS NULL) AS anonymous
    FROM {_M6_EVENTS} GROUP BY ALL
    """,
    f"INSERT INTO metric_users {_m6_users_select(_M6_EVENTS)}",
]


def _m7_users_select(relation: str) -> str:
    """Migration 7's per-user rollup query (frozen here; sora_lab.metrics.rollup.users_sql is the live copy)."""
    return f"""
        SELECT source, region, ukey,
               min(us) FILTER (WHERE type = 'invite_redeemed' AND inviter IS NOT NULL) AS inviter_us,
               arg_min(inviter, us) FILTER (WHERE type = 'invite_redeemed' AND inviter IS NOT NULL) AS inviter,
               CAST(min(off) FILTER (WHERE type = 'install') AS SMALLINT) AS first_ins,
               CAST(min(off) FILTER (WHERE type = 'invite_redeemed') AS SMALLINT) AS first_red,
               CAST(bit_or(CASE type WHEN 'view' THEN 1 WHEN 'generate' THEN 2 WHEN 'cameo_created' THEN 4 ELSE 0 END)
                    AS UTINYINT) AS flags,
               {_FROZEN_DAY_BITS}
        FROM (
            SELECT *, CAST(1 AS UBIGINT) << CAST(off % 64 AS UBIGINT) AS bit, off // 64 AS hi
            FROM (
                SELECT r.source, r.region, r.ukey, r.type, r.inviter, epoch_us(r.ts) AS us,
                       CAST(r.ts AS DATE) - DATE '1970-01-01' - s.base_day AS off
                FROM {relation} r JOIN metric_sources s USING (source)
                WHERE r.ukey IS NOT NULL
            )
        )
        GROUP BY source, region, ukey
    """


# Metrics rollup, second layout: per-user first install / first redemption day and view/generate/cameo
# flags, so a summary whose range holds every selected event (the default) reads one day-bit word per
# user instead of seven. Rebuilt from the events of the sources migration 6 covered.
MIGRATION_7 = [
    "DROP TABLE metric_users",
    """
    CREATE TABLE metric_users (
        source     VARCHAR NOT NULL,
        region     VARCHAR,
        ukey       BIGINT NOT NULL,                -- metric_user_keys.ukey
        inviter_us BIGINT,                         -- epoch µs of the first invite_redeemed naming an inviter
        inviter    BIGINT,                         -- that inviter's ukey
        first_ins  SMALLINT,                       -- first install, days from base_day
        first_red  SMALLINT,                       -- first invite_redeemed, days from base_day
        flags      UTINYINT,                       -- 1: any view, 2: any generate, 4: any cameo_created
        all0 UBIGINT, all1 UBIGINT,                -- day bits from base_day: any event
        act0 UBIGINT, act1 UBIGINT,                -- active (see sora_lab.metrics.queries)
        ins0 UBIGINT, ins1 UBIGINT,                -- install
        red0 UBIGINT, red1 UBIGINT,                -- invite_redeemed
        vw0  UBIGINT, vw1  UBIGINT,                -- view
        gen0 UBIGINT, gen1 UBIGINT,                -- generate
        cam0 UBIGINT, cam1 UBIGINT                 -- cameo_created
    )
    """,
    f"INSERT INTO metric_users {_m7_users_select(_M6_EVENTS)}",
]

# Feed: engagement signals waiting to be folded into feed_video_stats and feed_user_taste
# (sora_lab.feed.stats). Appending here keeps ingest fast; a fold applies them in bulk.
MIGRATION_8 = [
    """
    CREATE TABLE feed_pending (
        user_id  VARCHAR NOT NULL,
        video_id VARCHAR NOT NULL,
        kind     VARCHAR NOT NULL,                 -- view, share, comment, like
        watch_ms INTEGER,                          -- views only
        delta    INTEGER NOT NULL                  -- +1, or the net like change (+1 / -1)
    )
    """,
]

MIGRATION_9 = [  # issue 37: each clip's invisible-watermark key and PDQ hashes, one a second (sora_lab.provenance)
    "CREATE TABLE video_marks (video_id VARCHAR PRIMARY KEY, mark_key BIGINT NOT NULL UNIQUE)",
    "CREATE SEQUENCE video_fingerprint_seq",
    "CREATE TABLE video_fingerprints (seq BIGINT DEFAULT nextval('video_fingerprint_seq'), video_id VARCHAR NOT NULL,"
    " at_ms INTEGER NOT NULL, quality SMALLINT NOT NULL, h0 UBIGINT, h1 UBIGINT, h2 UBIGINT, h3 UBIGINT)"]

# Metrics (issue 38): live events folded into the rollup day by day (columns explained in sora_lab.metrics.live):
# each folded UTC day's event count and checksum, and one row per (day, region, user) with a bit per kind of
# event (metrics.definitions.KINDS order) and the day's first redemption naming an inviter.
MIGRATION_10 = [
    "CREATE TABLE metric_live_days (day INTEGER PRIMARY KEY, events BIGINT NOT NULL, checksum HUGEINT NOT NULL)",
    "CREATE TABLE metric_live_user_days (day INTEGER NOT NULL, region VARCHAR, ukey BIGINT NOT NULL, "
    "kinds UTINYINT NOT NULL, inviter_us BIGINT, inviter BIGINT)",
]
MIGRATION_11 = [  # issue 35: each cameo's face embedding (consent.likeness); has_face NULL: not known yet
    "ALTER TABLE cameos ADD COLUMN face_embedding FLOAT[128]", "ALTER TABLE cameos ADD COLUMN has_face BOOLEAN"]
MIGRATIONS: list[list[str]] = [
    MIGRATION_1, MIGRATION_2, MIGRATION_3, MIGRATION_4, MIGRATION_5, MIGRATION_6, MIGRATION_7, MIGRATION_8,
    MIGRATION_9, MIGRATION_10,
    MIGRATION_11,
    MIGRATION_12, MIGRATION_13,
]
SCHEMA_VERSION = len(MIGRATIONS)
