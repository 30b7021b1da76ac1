-- analysis.sql - analysis tables of results.db (diffs, decisions, metrics,
-- labels). Applied after results.sql by src/store/db.c. Owned by the diff and
-- analyze stages; filled by `shadowctl analyze` (idempotent per run).
CREATE TABLE IF NOT EXISTS analysis_placeholder (x INTEGER);
