-- What a notification says, captured when it is queued (see src/domain/notifications/snapshot.rs): the worker
-- renders the email from it, whenever it sends, instead of reading the ticket as it is then. Rows queued before
-- this release have none; the worker captures theirs when it first takes them.
ALTER TABLE outbox
    ADD COLUMN snapshot jsonb,
    ADD COLUMN snapshot_version integer,
    -- NOT VALID: every existing row has neither, so there is nothing to check, and the outbox (sent rows and their
    -- text included) is not scanned under the migration's lock. New and updated rows are checked.
    ADD CONSTRAINT outbox_snapshot_versioned CHECK ((snapshot IS NULL) = (snapshot_version IS NULL)) NOT VALID;
