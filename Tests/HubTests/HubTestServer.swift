import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// A local stand-in for the Hugging Face hub (and a plain file host for torch hub URLs) on 127.0.0.1,
/// answering the endpoints the client uses the way the real hub does:
///
/// - `GET /api/models/<org>/<name>/revision/<rev>`: `{"sha": ..., "siblings": [{"rfilename": ...}]}`
/// - `HEAD|GET /<org>/<name>/resolve/<rev>/<path>`: regular files answer 200 with the git blob hash as
///   ETag; LFS files answer 302 to `/lfs/<sha256>` with `X-Linked-Etag` / `X-Linked-Size`; both carry
///   `X-Repo-Commit`; unknown repos and files answer 404 with `X-Error-Code`, a missing token 401.
/// - `GET /lfs/<sha256>` and `GET /files/<name>`: file bodies with HTTP Range support.
///
/// Failures are injected per file name: a dropped connection after some bytes, content that does not
/// match its checksum, a fixed status, or a delay before every chunk.
final class HubTestServer: @unchecked Sendable {
    struct Repo {
        var commit: String
        var files: [String: Data]
        var lfs: Set<String>
    }

    enum Failure {
        /// Close the connection after `bytes` bytes of the body, the next `times` requests.
        case dropConnection(afterBytes: Int, times: Int)
        /// Serve these bytes instead of the real ones (the checksum no longer matches).
        case corruptContent
        case status(Int)
        /// Wait before every 1 KB chunk.
        case slow(secondsPerChunk: Double)
    }

    struct LoggedRequest {
        let method: String
        let path: String
        let range: String?
        let authorization: String?
    }

    private let lock = NSLock()
    private var repos: [String: Repo] = [:]
    private var plainFiles: [String: Data] = [:]
    private var failures: [String: Failure] = [:]
    private var log: [LoggedRequest] = []
    var requiredToken: String?
    /// Answers before the normal routes when it returns a response: a hostile hub for one test.
    var override: (@Sendable (Request) -> Response?)?
    private(set) var port = 0
    private var task: Task<Void, Error>?

    func addRepo(_ id: String, commit: String, files: [String: Data], lfs: Set<String>) {
        locked { repos[id] = Repo(commit: commit, files: files, lfs: lfs) }
    }

    func addPlainFile(_ name: String, _ data: Data) { locked { plainFiles[name] = data } }
    func inject(_ failure: Failure?, forFile name: String) { locked { failures[name] = failure } }
    func clearLog() { locked { log.removeAll() } }
    var requests: [LoggedRequest] { locked { log } }
    var endpoint: URL { URL(string: "http://127.0.0.1:\(port)")! }

    func start() async throws {
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in try await self.respond(to: request) },
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: {
                var logger = Logger(label: "hub-test-server")
                logger.logLevel = .critical
                return logger
            }())
        task = Task { try await app.run() }
        for await bound in portStream {
            port = bound
            break
        }
    }

    func stop() async {
        task?.cancel()
        _ = await task?.result
    }

    // MARK: - Responses

    private func respond(to request: Request) async throws -> Response {
        let path = request.uri.path
        let authorization = request.headers[.authorization]
        locked {
            log.append(LoggedRequest(method: "\(request.method)", path: path, range: request.headers[.range], authorization: authorization))
        }
        if let override = locked({ override }), let response = override(request) { return response }
        if let requiredToken, !path.hasPrefix("/lfs/"), !path.hasPrefix("/files/"), authorization != "Bearer " + requiredToken {
            return Response(status: .unauthorized, headers: [.init("X-Error-Code")!: "GatedRepo"])
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { String($0).removingPercentEncoding ?? String($0) }
        if parts.count >= 6, parts[0] == "api", parts[1] == "models", parts[4] == "revision" {
            return repoInfo(repoID: parts[2] + "/" + parts[3], revision: parts[5...].joined(separator: "/"))
        }
        if parts.count >= 5, parts[2] == "resolve" {
            return try resolve(repoID: parts[0] + "/" + parts[1], file: parts[4...].joined(separator: "/"), request: request)
        }
        if parts.count == 2, parts[0] == "lfs" {
            let found = locked { repos.values.lazy.flatMap { repo in repo.files.filter { repo.lfs.contains($0.key) } }.first { HubTestServer.sha256($0.value) == parts[1] } }
            guard let (name, data) = found else { return Response(status: .notFound) }
            return try body(data, name: name, request: request)
        }
        if parts.count == 2, parts[0] == "files" {
            guard let data = locked({ plainFiles[parts[1]] }) else { return Response(status: .notFound) }
            if case let .status(code) = locked({ failures[parts[1]] }) { return Response(status: .init(code: code)) }
            return try body(data, name: parts[1], request: request)
        }
        return Response(status: .notFound)
    }

    private func repoInfo(repoID: String, revision: String) -> Response {
        guard let repo = locked({ repos[repoID] }) else {
            return Response(status: .notFound, headers: [.init("X-Error-Code")!: "RepoNotFound"])
        }
        guard revision == "main" || revision == repo.commit else {
            return Response(status: .notFound, headers: [.init("X-Error-Code")!: "RevisionNotFound"])
        }
        let json: [String: Any] = ["id": repoID, "sha": repo.commit, "siblings": repo.files.keys.sorted().map { ["rfilename": $0] }]
        let data = try! JSONSerialization.data(withJSONObject: json)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private func resolve(repoID: String, file: String, request: Request) throws -> Response {
        guard let repo = locked({ repos[repoID] }) else {
            return Response(status: .notFound, headers: [.init("X-Error-Code")!: "RepoNotFound"])
        }
        guard let data = repo.files[file] else {
            return Response(status: .notFound, headers: [.init("X-Error-Code")!: "EntryNotFound"])
        }
        if case let .status(code) = locked({ failures[file] }) { return Response(status: .init(code: code)) }
        var headers: HTTPFields = [.init("X-Repo-Commit")!: repo.commit]
        if repo.lfs.contains(file) {
            let sha = HubTestServer.sha256(data)
            headers[.init("X-Linked-Etag")!] = "\"\(sha)\""
            headers[.init("X-Linked-Size")!] = "\(data.count)"
            headers[.eTag] = "\"\(sha)\""
            headers[.location] = endpoint.absoluteString + "/lfs/" + sha
            return Response(status: .found, headers: headers)
        }
        headers[.eTag] = "\"\(HubTestServer.gitBlobSHA1(data))\""
        if request.method == .head {
            headers[.contentLength] = "\(data.count)"
            return Response(status: .ok, headers: headers)
        }
        var response = try body(data, name: file, request: request)
        for field in headers { response.headers[field.name] = field.value }
        return response
    }

    /// The body of `data` honouring `Range: bytes=N-`, with the failure injected for `name`.
    private func body(_ original: Data, name: String, request: Request) throws -> Response {
        var data = original
        let failure: Failure? = locked {
            let failure = failures[name]
            if case let .dropConnection(bytes, times) = failure {
                failures[name] = times > 1 ? .dropConnection(afterBytes: bytes, times: times - 1) : nil
            }
            return failure
        }
        if case .corruptContent = failure { data[data.startIndex] ^= 0xFF }
        var start = 0
        var status = HTTPResponse.Status.ok
        var headers: HTTPFields = [.acceptRanges: "bytes"]
        if let range = request.headers[.range], range.hasPrefix("bytes="), let first = Int(range.dropFirst(6).split(separator: "-").first ?? "") {
            guard first < data.count else { return Response(status: .rangeNotSatisfiable) }
            start = first
            status = .partialContent
            headers[.contentRange] = "bytes \(first)-\(data.count - 1)/\(data.count)"
        }
        let slice = data[(data.startIndex + start)...]
        headers[.contentLength] = "\(slice.count)"
        let payload = Data(slice)
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: payload.count) { writer in
            var sent = 0
            while sent < payload.count {
                let chunk = payload[sent..<min(sent + 1024, payload.count)]
                switch failure {
                case let .dropConnection(afterBytes, _) where sent + chunk.count > afterBytes:
                    try await writer.write(ByteBuffer(bytes: payload[sent..<max(sent, afterBytes)]))
                    throw CancellationError()
                case let .slow(seconds):
                    try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                default:
                    break
                }
                try await writer.write(ByteBuffer(bytes: chunk))
                sent += chunk.count
            }
            try await writer.finish(nil)
        })
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    static func gitBlobSHA1(_ data: Data) -> String {
        Insecure.SHA1.hash(data: Data("blob \(data.count)\0".utf8) + data).map { String(format: "%02x", $0) }.joined()
    }
}
