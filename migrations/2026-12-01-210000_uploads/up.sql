-- Files uploaded through the API (POST /api/v1/uploads) before they are attached to a message: each belongs to
-- its uploader, can be attached once, and is removed when it expires unused.
CREATE TABLE uploads (
    id            uuid PRIMARY KEY,
    owner_id      uuid NOT NULL REFERENCES users (id),
    filename      text NOT NULL CONSTRAINT uploads_filename_length CHECK (char_length(filename) BETWEEN 1 AND 255),
    content_type  text NOT NULL CONSTRAINT uploads_content_type_length CHECK (char_length(content_type) BETWEEN 1 AND 255),
    size          bigint NOT NULL CONSTRAINT uploads_size_range CHECK (size >= 0),
    sha256        bytea NOT NULL REFERENCES files (sha256),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    attachment_id uuid REFERENCES attachments (id)
);
CREATE INDEX uploads_owner_idx ON uploads (owner_id);
CREATE INDEX uploads_unused_expiry_idx ON uploads (expires_at) WHERE attachment_id IS NULL;
