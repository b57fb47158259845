import Foundation
import XCTest

/// A throwaway PostgreSQL server for tests: initdb into a temporary folder, started with pg_ctl on a
/// free loopback port, trust authentication, fsync off; one per test process, stopped and removed at
/// exit. As root (CI containers) the server runs as the `postgres` user, since initdb refuses root.
/// Tests skip with a clear message when the binaries are not installed (`.ci/run` installs them).
public final class TemporaryPostgres: @unchecked Sendable {
    public let port: Int
    public let folder: String
    private let binaries: String
    private let runAs: String?
    private var databaseCount = 0
    private let lock = NSLock()

    private static let lock = NSLock()
    nonisolated(unsafe) private static var started: Result<TemporaryPostgres, Error>?

    /// The process's server, started on first use; throws XCTSkip when PostgreSQL is not installed.
    public static func shared() throws -> TemporaryPostgres {
        try lock.withLock {
            if started == nil {
                started = Result { try TemporaryPostgres() }
                if case .success = started {
                    atexit { if case .success(let server) = TemporaryPostgres.started { server.stop() } }
                }
            }
            return try started!.get()
        }
    }

    /// A new, empty database's URL, so tests never see each other's rows.
    public func makeDatabase() throws -> String {
        let name = lock.withLock { () -> String in
            databaseCount += 1
            return "test_\(getpid())_\(databaseCount)"
        }
        try run("createdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", name])
        return "postgres://postgres@127.0.0.1:\(port)/\(name)?sslmode=disable"
    }

    /// Runs `sql` with psql on the database of `url`; the rows, one a line, columns separated by '|'.
    public func query(_ url: String, _ sql: String) throws -> String {
        try run("psql", ["-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func findBinaries() -> String? {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
        for version in versions {
            let folder = "/usr/lib/postgresql/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: folder + "/initdb") { return folder }
        }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        where FileManager.default.isExecutableFile(atPath: folder + "/initdb") && FileManager.default.isExecutableFile(atPath: folder + "/pg_ctl") {
            return folder
        }
        return nil
    }

    private init() throws {
        guard let binaries = Self.findBinaries() else {
            throw XCTSkip("PostgreSQL server binaries (initdb, pg_ctl) not installed; `.ci/run` installs the postgresql package")
        }
        self.binaries = binaries
        let runAs = getuid() == 0 ? "postgres" : nil
        self.runAs = runAs
        if runAs != nil && getpwnam("postgres") == nil {
            throw XCTSkip("running as root and there is no `postgres` user to run the test server as")
        }
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pg-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if let runAs { try FileManager.default.setAttributes([.ownerAccountName: runAs], ofItemAtPath: folder) }
        let data = folder + "/data"
        try Self.run("initdb", binaries: binaries, runAs: runAs, ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        var lastError: Error?
        for _ in 0..<5 {
            let port = Int.random(in: 20_000..<60_000)
            do {
                try Self.run("pg_ctl", binaries: binaries, runAs: runAs, ["-D", data, "-l", folder + "/server.log", "-w", "-t", "60", "start", "-o",
                                   "-p \(port) -k \(folder) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200"])
                self.port = port
                return
            } catch {
                lastError = error
            }
        }
        throw lastError!
    }

    public func stop() {
        _ = try? run("pg_ctl", ["-D", folder + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: folder)
    }

    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        try Self.run(tool, binaries: binaries, runAs: runAs, arguments)
    }

    /// Runs a tool with posix_spawn and waitpid. Not Foundation's Process: `pg_ctl start` leaves the
    /// server running, which inherits the descriptor Process watches for the child's end, so Process
    /// would wait for the server to stop.
    @discardableResult
    private static func run(_ tool: String, binaries: String, runAs: String?, _ arguments: [String]) throws -> String {
        let command = runAs.map { ["/usr/sbin/runuser", "-u", $0, "--", "\(binaries)/\(tool)"] } ?? ["\(binaries)/\(tool)"]
        let argv = command + arguments
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("pg-tool-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var pointers = argv.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &pointers, environ)
        guard spawned == 0 else {
            throw NSError(domain: "TemporaryPostgres", code: Int(spawned),
                          userInfo: [NSLocalizedDescriptionKey: "\(tool): \(String(cString: strerror(spawned)))"])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED and WEXITSTATUS, which Swift does not import.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw NSError(domain: "TemporaryPostgres", code: Int(status),
                          userInfo: [NSLocalizedDescriptionKey: "\(tool) failed (status \(status)): \(text.suffix(800))"])
        }
        return text
    }
}
