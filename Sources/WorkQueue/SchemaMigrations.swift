import Logging
import PostgresNIO

/// Versioned schema changes, applied in order at start by every process that connects (front and
/// workers alike). An advisory lock makes concurrent starts take turns; each migration runs in one
/// transaction with the row that records it, so a version is either wholly applied or not at all.
/// Never edit a released migration: append a new one.
public enum SchemaMigrations {
    /// Index + 1 is the version.
    static let migrations: [[PostgresQuery]] = [
        [
            """
            CREATE TABLE sdv_jobs (
                id text PRIMARY KEY,
                seq bigserial UNIQUE,
                state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'finished', 'failed', 'cancelled')),
                input_name text NOT NULL,
                source_path text NOT NULL,
                output_path text NOT NULL,
                download_name text NOT NULL,
                inference_steps integer NOT NULL,
                quality text NOT NULL,
                frame_count integer NOT NULL CHECK (frame_count > 0),
                width integer NOT NULL,
                height integer NOT NULL,
                chunk_frames integer NOT NULL CHECK (chunk_frames >= 0),
                warmup_frames integer NOT NULL CHECK (warmup_frames >= 0),
                message text,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                finished_at timestamptz
            )
            """,
            """
            CREATE TABLE sdv_tasks (
                id bigserial PRIMARY KEY,
                job_id text NOT NULL REFERENCES sdv_jobs (id) ON DELETE CASCADE,
                kind text NOT NULL CHECK (kind IN ('chunk', 'join')),
                chunk_index integer NOT NULL,
                warmup_from integer NOT NULL,
                first_frame integer NOT NULL,
                end_frame integer NOT NULL,
                is_last boolean NOT NULL,
                state text NOT NULL CHECK (state IN ('waiting', 'queued', 'running', 'done', 'failed', 'cancelled')),
                lease_token text,
                lease_owner text,
                lease_expires timestamptz,
                attempts integer NOT NULL DEFAULT 0,
                completions integer NOT NULL DEFAULT 0 CHECK (completions <= 1),
                frames_done integer NOT NULL DEFAULT 0,
                seconds_per_frame double precision,
                UNIQUE (job_id, kind, chunk_index)
            )
            """,
            "CREATE INDEX sdv_tasks_open ON sdv_tasks (id) WHERE state IN ('queued', 'running')",
            "CREATE INDEX sdv_tasks_job ON sdv_tasks (job_id)",
            "CREATE INDEX sdv_jobs_state ON sdv_jobs (state, seq)",
        ],
    ]

    public static var latestVersion: Int { migrations.count }

    /// Applies the missing migrations; returns the versions applied now (empty when up to date).
    @discardableResult
    public static func migrate(_ client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await inTransaction(client, logger: logger) { connection in
            // Any 64-bit key the project owns; held until this transaction ends.
            try await connection.query("SELECT pg_advisory_xact_lock(7306744112850012018)", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS sdv_schema_migrations (
                    version integer PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT clock_timestamp())
                """, logger: logger)
            let current = try await connection.query("SELECT COALESCE(MAX(version), 0)::bigint FROM sdv_schema_migrations", logger: logger)
                .collect().first?.decode(Int.self) ?? 0
            guard current <= migrations.count else {
                throw JobQueueError.schemaTooNew(found: current, supported: migrations.count)
            }
            var applied: [Int] = []
            for (index, statements) in migrations.enumerated() where index + 1 > current {
                for statement in statements { try await connection.query(statement, logger: logger) }
                try await connection.query("INSERT INTO sdv_schema_migrations (version) VALUES (\(index + 1))", logger: logger)
                logger.info("applied queue schema migration", metadata: ["version": "\(index + 1)"])
                applied.append(index + 1)
            }
            return applied
        }
    }
}

/// `withTransaction`, rethrowing the body's own error as it is (PostgresNIO wraps it), so that a refusal
/// reaches the user as its one line.
func inTransaction<Result>(_ client: PostgresClient, logger: Logger,
                           _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
    do {
        return try await client.withTransaction(logger: logger, body)
    } catch let error as PostgresTransactionError {
        if let inner = error.closureError { throw inner }
        throw error
    }
}
