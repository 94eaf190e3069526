-- The attachments table as it was, its content put back together from the chunks.
ALTER TABLE attachments RENAME TO attachments_stored;
ALTER TABLE attachments_stored RENAME CONSTRAINT attachments_pkey TO attachments_stored_pkey;
ALTER TABLE attachments_stored RENAME CONSTRAINT attachments_message_id_fkey TO attachments_stored_message_id_fkey;
ALTER INDEX attachments_message_idx RENAME TO attachments_stored_message_idx;

CREATE TABLE attachments (
    id           uuid PRIMARY KEY,
    message_id   uuid NOT NULL REFERENCES messages (id),
    filename     text NOT NULL CONSTRAINT attachments_filename_length CHECK (char_length(filename) BETWEEN 1 AND 255),
    content_type text NOT NULL CONSTRAINT attachments_content_type_length CHECK (char_length(content_type) BETWEEN 1 AND 255),
    size         integer NOT NULL CONSTRAINT attachments_size_range CHECK (size >= 0),
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO attachments (id, message_id, filename, content_type, size, data, created_at)
    SELECT s.id, s.message_id, s.filename, s.content_type, s.size,
           coalesce((SELECT string_agg(c.data, ''::bytea ORDER BY c.n) FROM file_chunks c WHERE c.sha256 = s.sha256), ''),
           s.created_at
    FROM attachments_stored s;
CREATE INDEX attachments_message_idx ON attachments (message_id);

DROP TABLE attachments_stored;
DROP TABLE file_chunks;
DROP TABLE files;
