"""Migrations from 12 on (schema.py holds 1-11 and the MIGRATIONS list, and would pass 500 lines otherwise).

Same rules as schema.py: append, never edit one that has shipped.
"""

# Issue 36: durable generation jobs (sora_lab.videos.queue) and prompt-sweep cells (sora_lab.videos.sweeps).
MIGRATION_12 = [
    """
    CREATE TABLE jobs (
        job_id      VARCHAR PRIMARY KEY,
        owner_id    VARCHAR NOT NULL,
        request     VARCHAR NOT NULL,              -- JSON of the checked GenerationRequest
        state       VARCHAR NOT NULL,              -- queued | running | done | failed | cancelled
        stage       VARCHAR NOT NULL,              -- the pipeline stage while running
        progress    DOUBLE NOT NULL DEFAULT 0,     -- 0..1 over the whole job
        attempts    INTEGER NOT NULL DEFAULT 0,    -- how many times a worker started it
        result      VARCHAR,                       -- JSON: the new video's public record, once done
        error       VARCHAR,                       -- JSON: {code, message[, reasons]}, once failed
        sweep_id    VARCHAR,                       -- the sweep it is a cell of, if any
        created_at  TIMESTAMP NOT NULL,
        started_at  TIMESTAMP,
        finished_at TIMESTAMP
    )
    """,
    "CREATE INDEX jobs_owner ON jobs (owner_id)",
    """
    CREATE TABLE sweeps (
        sweep_id   VARCHAR NOT NULL,
        cell       INTEGER NOT NULL,               -- 0-based, in grid order (prompt, seed, settings)
        owner_id   VARCHAR NOT NULL,
        job_id     VARCHAR NOT NULL,
        prompt     VARCHAR NOT NULL,
        seed       BIGINT NOT NULL,
        settings   VARCHAR NOT NULL,               -- JSON of the cell's options, e.g. {"steps": 8, "guidance": 3}
        video_id   VARCHAR,                        -- once rendered
        wall_s     DOUBLE,                         -- the job's wall time, start to row
        color      VARCHAR,                        -- tiny model: the evaluator's reading of the clip
        shape      VARCHAR,
        motion     VARCHAR,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (sweep_id, cell)
    )
    """,
]

# Issue 34: one-time login codes and feed sessions (sha256 only), workshops and their seats.
MIGRATION_13 = [
    "CREATE TABLE login_codes (code_hash VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,"
    " expires_at TIMESTAMP NOT NULL, used_at TIMESTAMP)",
    "CREATE TABLE sessions (token_hash VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,"
    " expires_at TIMESTAMP NOT NULL, ended_at TIMESTAMP)",
    "CREATE TABLE workshop_seats (workshop_id VARCHAR NOT NULL, seat INTEGER NOT NULL, code VARCHAR PRIMARY KEY,"
    " opened_at TIMESTAMP NOT NULL, closed_at TIMESTAMP)"]
