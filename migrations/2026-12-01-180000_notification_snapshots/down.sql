ALTER TABLE outbox
    DROP CONSTRAINT outbox_snapshot_versioned,
    DROP COLUMN snapshot_version,
    DROP COLUMN snapshot;
