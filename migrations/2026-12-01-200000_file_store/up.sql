-- Files are kept once per content, named by their SHA-256, in chunks of 256 KiB: a large file is written and read
-- piece by piece (a download of a range reads only the chunks it needs), and the same document attached twice is
-- stored once. Attachments point at their content instead of holding it.
CREATE TABLE files (
    sha256     bytea PRIMARY KEY CONSTRAINT files_sha256_length CHECK (octet_length(sha256) = 32),
    size       bigint NOT NULL CONSTRAINT files_size_range CHECK (size >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE file_chunks (
    sha256 bytea NOT NULL REFERENCES files (sha256) ON DELETE CASCADE,
    n      integer NOT NULL CONSTRAINT file_chunks_n_range CHECK (n >= 0),
    data   bytea NOT NULL,
    PRIMARY KEY (sha256, n)
);
-- Documents are mostly compressed already (PDF, DOCX, images): no second compression attempt.
ALTER TABLE file_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

INSERT INTO files (sha256, size)
    SELECT DISTINCT sha256(data), octet_length(data) FROM attachments;
INSERT INTO file_chunks (sha256, n, data)
    SELECT DISTINCT ON (a.hash, n.n) a.hash, n.n, substring(a.data FROM n.n * 262144 + 1 FOR 262144)
    FROM (SELECT sha256(data) AS hash, data FROM attachments) a,
         generate_series(0, greatest(0, (octet_length(a.data) - 1) / 262144)) AS n (n)
    ORDER BY a.hash, n.n;

ALTER TABLE attachments ADD COLUMN sha256 bytea REFERENCES files (sha256);
UPDATE attachments SET sha256 = sha256(data);
ALTER TABLE attachments ALTER COLUMN sha256 SET NOT NULL, DROP COLUMN data;
CREATE INDEX attachments_sha256_idx ON attachments (sha256);
