import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// Downloads model repos and checkpoint URLs into the caches the Python tools share, reusing what is
/// already there. Downloads grow in `*.incomplete` files that are resumed with HTTP Range requests,
/// verified (sha256 for LFS files, the git blob hash otherwise, torch hub's hash prefix for URLs) and
/// only then renamed into place, so an interrupted run never leaves a file that looks complete.
public final class HubClient: @unchecked Sendable {
    public let configuration: HubConfiguration
    public let progress: DownloadProgressReporting?

    public init(configuration: HubConfiguration = .fromEnvironment(),
                progress: DownloadProgressReporting? = TerminalProgressBar()) {
        self.configuration = configuration
        self.progress = progress
    }

    // MARK: - Model references

    /// A local folder is used as is; anything else must be a repo id (`org/name`) and is fetched
    /// (or found in the cache) with `snapshot`.
    public func resolveModel(_ reference: String, revision: String = "main", variant: String? = nil) async throws -> URL {
        var isDirectory: ObjCBool = false
        let expanded = (reference as NSString).expandingTildeInPath
        if FileManager.default.fileExists(atPath: expanded, isDirectory: &isDirectory), isDirectory.boolValue {
            return URL(fileURLWithPath: expanded, isDirectory: true)
        }
        return try await snapshot(repoID: reference, revision: revision, variant: variant)
    }

    /// The local snapshot folder of `repoID` at `revision` holding the files matching `patterns`
    /// (fnmatch globs), or by default the files the pipeline needs (`ModelFileSelection`).
    public func snapshot(repoID: String, revision: String = "main", patterns: [String]? = nil,
                         variant: String? = nil) async throws -> URL {
        try HubClient.validate(repoID: repoID)
        let cache = HubCacheRepo(cacheDirectory: configuration.cacheDirectory, repoID: repoID)
        if configuration.offline {
            return try cachedSnapshot(cache, revision: revision, patterns: patterns, variant: variant)
        }
        let info: RepoInfo
        do {
            info = try await withHTTPClient { try await self.repoInfo(repoID: repoID, revision: revision, client: $0) }
        } catch let HubError.network(url, reason) {
            // Like huggingface_hub: unreachable hub, but a complete cached snapshot still works.
            if let folder = try? cachedSnapshot(cache, revision: revision, patterns: patterns, variant: variant) { return folder }
            throw HubError.network(url: url, reason: reason)
        }
        let wanted = HubClient.filter(info.files, patterns: patterns, variant: variant)
        try HubClient.checkComplete(repoID: repoID, files: wanted, patterns: patterns)
        try await withHTTPClient { client in
            for file in wanted where cache.cachedFile(commit: info.commit, path: file) == nil {
                try await self.fetch(file: file, repoID: repoID, commit: info.commit, cache: cache, client: client)
            }
        }
        try cache.writeRef(revision: revision, commit: info.commit)
        return cache.snapshotFolder(commit: info.commit)
    }

    /// torch hub style download: `<directory>/<file name of the URL>`, reused when present. A name
    /// with a hash prefix after a '-' (torchvision's `raft_large_C_T_SKHT_V2-ff5fadd5.pth`) must match
    /// the start of the file's sha256, as `torch.hub.download_url_to_file` checks.
    public func cachedDownload(url: URL, into directory: URL) async throws -> URL {
        let destination = directory.appendingPathComponent(url.lastPathComponent)
        if FileManager.default.fileExists(atPath: destination.path) { return destination }
        if configuration.offline {
            throw HubError.offlineURLNotCached(url: url.absoluteString, expectedPath: destination.path)
        }
        try HubCacheRepo.createDirectory(directory)
        let partial = directory.appendingPathComponent(url.lastPathComponent + ".partial")
        try await withHTTPClient { client in
            try await self.download(url: url, to: partial, label: url.lastPathComponent, expectedSize: nil,
                                    authorization: nil, what: url.absoluteString, client: client)
        }
        if let prefix = HubClient.torchHashPrefix(fileName: url.lastPathComponent) {
            let digest = try HubClient.sha256(of: partial)
            guard digest.hasPrefix(prefix) else {
                try? FileManager.default.removeItem(at: partial)
                throw HubError.checksumMismatch(file: url.lastPathComponent, expected: prefix + "...", actual: digest)
            }
        }
        try HubClient.moveIntoPlace(partial, destination)
        return destination
    }

    // MARK: - Offline snapshot

    private func cachedSnapshot(_ cache: HubCacheRepo, revision: String, patterns: [String]?, variant: String?) throws -> URL {
        guard let commit = cache.commit(forRevision: revision) else {
            throw HubError.offlineNotCached(repoID: cache.repoID, revision: revision,
                                            missing: ["refs/\(revision) (the repo was never downloaded at this revision)"])
        }
        let files = HubClient.filter(cache.cachedPaths(commit: commit), patterns: patterns, variant: variant)
        do {
            try HubClient.checkComplete(repoID: cache.repoID, files: files, patterns: patterns)
        } catch let HubError.incompleteModel(_, reason) {
            throw HubError.offlineNotCached(repoID: cache.repoID, revision: revision, missing: [reason])
        }
        return cache.snapshotFolder(commit: commit)
    }

    static func filter(_ files: [String], patterns: [String]?, variant: String?) -> [String] {
        guard let patterns else { return ModelFileSelection.select(from: files, variant: variant) }
        return files.filter { file in patterns.contains { ModelFileSelection.matches(file, pattern: $0) } }
    }

    /// With the default selection a pipeline repo needs its index and a weight file for each component
    /// folder that has a config; explicit patterns need at least one match.
    static func checkComplete(repoID: String, files: [String], patterns: [String]?) throws {
        if let patterns {
            if files.isEmpty {
                throw HubError.incompleteModel(repoID: repoID, reason: "no file matches \(patterns.joined(separator: ", "))")
            }
            return
        }
        guard files.contains("model_index.json") || files.contains("config.json") else {
            throw HubError.incompleteModel(repoID: repoID, reason: "model_index.json (not a diffusers pipeline repo)")
        }
        let configFolders = files.filter { $0.hasSuffix("/config.json") }.map { ModelFileSelection.split($0).folder }
        for folder in configFolders where !folder.hasPrefix("tokenizer") {
            let hasWeights = files.contains { $0.hasPrefix(folder + "/") && ($0.hasSuffix(".safetensors") || $0.hasSuffix(".bin")) }
            if !hasWeights {
                throw HubError.incompleteModel(repoID: repoID, reason: "\(folder)/ has a config.json but no weights (.safetensors or .bin)")
            }
        }
    }

    // MARK: - Hub endpoints

    struct RepoInfo {
        let commit: String
        let files: [String]
    }

    /// `GET /api/models/<repo>/revision/<revision>`: the commit the revision points to and the file list.
    private func repoInfo(repoID: String, revision: String, client: HTTPClient) async throws -> RepoInfo {
        let url = configuration.endpoint.absoluteString + "/api/models/" + repoID + "/revision/" + HubClient.encode(revision, slash: true)
        let response = try await request(url, method: .GET, authorization: authorization, client: client)
        try HubClient.check(response, repoID: repoID, what: "\(repoID) at revision '\(revision)'", url: url)
        var body = try await collect(response, url: url)
        guard let bytes = body.readBytes(length: body.readableBytes),
              let json = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let commit = json["sha"] as? String,
              let siblings = json["siblings"] as? [[String: Any]] else {
            throw HubError.httpStatus(url: url, status: Int(response.status.code))
        }
        // Both become paths in the cache: checked before any path is made from them.
        try HubPathSafety.validate(commit: commit)
        let files = siblings.compactMap { $0["rfilename"] as? String }
        for file in files { try HubPathSafety.validate(fileName: file) }
        return RepoInfo(commit: commit, files: files)
    }

    /// HEAD on the resolve URL (redirects not followed, so the LFS headers of the 302 are visible),
    /// then the blob download unless an identical blob is cached, then the snapshot link.
    private func fetch(file: String, repoID: String, commit: String, cache: HubCacheRepo, client: HTTPClient) async throws {
        let resolveURL = configuration.endpoint.absoluteString + "/" + repoID + "/resolve/" + commit + "/"
            + file.split(separator: "/").map { HubClient.encode(String($0), slash: false) }.joined(separator: "/")
        var url = resolveURL
        var response = try await request(url, method: .HEAD, authorization: authorization, client: client)
        // Relative redirects are renamed repos: follow them; an absolute one is the LFS storage.
        var hops = 0
        while (300..<400).contains(Int(response.status.code)), let location = response.headers.first(name: "Location"),
              location.hasPrefix("/"), hops < 5 {
            url = configuration.endpoint.absoluteString + location
            response = try await request(url, method: .HEAD, authorization: authorization, client: client)
            hops += 1
        }
        try HubClient.check(response, repoID: repoID, what: "\(repoID)/\(file) at \(commit)", url: url)
        guard let rawETag = response.headers.first(name: "X-Linked-Etag") ?? response.headers.first(name: "ETag") else {
            throw HubError.network(url: url, reason: "the server sent no ETag for \(file), so the download cannot be verified")
        }
        let etag = HubClient.normalize(etag: rawETag)
        try HubPathSafety.validate(etag: etag)
        let size = (response.headers.first(name: "X-Linked-Size") ?? response.headers.first(name: "Content-Length")).flatMap { Int64($0) }
        let downloadURL: String
        if (300..<400).contains(Int(response.status.code)), let location = response.headers.first(name: "Location") {
            downloadURL = location
        } else {
            downloadURL = url
        }
        let blob = cache.blob(etag: etag)
        let lock = try await DownloadLock.acquire(cache.lockFile(etag: etag))
        defer { lock.release() }
        if !FileManager.default.fileExists(atPath: blob.path) {
            try HubCacheRepo.createDirectory(blob.deletingLastPathComponent())
            let incomplete = cache.incompleteBlob(etag: etag)
            guard let target = URL(string: downloadURL, relativeTo: URL(string: url))?.absoluteURL else {
                throw HubError.network(url: url, reason: "unusable redirect location '\(downloadURL)'")
            }
            // The token goes to the hub only, not to the storage a redirect points at.
            let sameOrigin = HubPathSafety.sameOrigin(target, configuration.endpoint)
            try await download(url: target, to: incomplete, label: file, expectedSize: size,
                               authorization: sameOrigin ? authorization : nil, what: "\(repoID)/\(file)", client: client)
            try HubClient.verify(incomplete, etag: etag, file: file)
            try HubClient.moveIntoPlace(incomplete, blob)
        }
        try cache.link(commit: commit, path: file, etag: etag)
    }

    // MARK: - Transfer

    private var authorization: String? { configuration.token.map { "Bearer " + $0 } }

    private func withHTTPClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        var httpConfiguration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        let timeout = TimeAmount.milliseconds(Int64(configuration.readTimeout * 1000))
        httpConfiguration.timeout = .init(connect: timeout, read: timeout)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpConfiguration)
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func request(_ url: String, method: HTTPMethod, authorization: String?, rangeStart: Int64 = 0,
                         client: HTTPClient) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: "stream-diffvsr-swift/1.0; hf_hub-compatible")
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        if rangeStart > 0 { request.headers.add(name: "Range", value: "bytes=\(rangeStart)-") }
        do {
            return try await client.execute(request, timeout: .hours(24))
        } catch {
            throw HubClient.networkError(error, url: url)
        }
    }

    private func collect(_ response: HTTPClientResponse, url: String) async throws -> ByteBuffer {
        do {
            return try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw HubClient.networkError(error, url: url)
        }
    }

    /// Streams `url` into `partial`, resuming from its current size, and retrying with a Range request
    /// when the connection breaks, up to `resumeAttempts` times. Follows up to 10 redirects; the
    /// Authorization header is dropped for good once a redirect leaves the origin it was meant for.
    private func download(url: URL, to partial: URL, label: String, expectedSize: Int64?, authorization initialAuthorization: String?,
                          what: String, client: HTTPClient) async throws {
        var failures = 0
        var target = url.absoluteString
        var redirects = 0
        var authorization = initialAuthorization
        while true {
            var existing = HubClient.fileSize(partial)
            if let expectedSize, existing > expectedSize {
                try? FileManager.default.removeItem(at: partial)
                existing = 0
            }
            if let expectedSize, existing == expectedSize, existing > 0 { return }
            do {
                let response = try await request(target, method: .GET, authorization: authorization, rangeStart: existing, client: client)
                let status = Int(response.status.code)
                if (300..<400).contains(status), let location = response.headers.first(name: "Location"), redirects < 10 {
                    guard let previous = URL(string: target), let next = URL(string: location, relativeTo: previous)?.absoluteURL,
                          ["http", "https"].contains(next.scheme?.lowercased() ?? "") else {
                        throw HubError.network(url: target, reason: "unusable redirect location '\(location)'")
                    }
                    if !HubPathSafety.sameOrigin(previous, next) { authorization = nil }
                    target = next.absoluteString
                    redirects += 1
                    continue
                }
                if status == 416 {
                    // The partial file is not a prefix of this content: start over.
                    try? FileManager.default.removeItem(at: partial)
                    failures += 1
                    if failures > configuration.resumeAttempts { throw HubError.httpStatus(url: target, status: status) }
                    continue
                }
                try HubClient.check(response, repoID: what, what: what, url: target)
                // A redirect past the limit (or without a Location) is not the file.
                guard status == 200 || status == 206 else { throw HubError.httpStatus(url: target, status: status) }
                let resumed = status == 206
                if resumed {
                    // Appending is right only if the part sent starts where the file ends.
                    let range = response.headers.first(name: "Content-Range").flatMap(HubClient.contentRangeStart)
                    guard range == existing else {
                        try? FileManager.default.removeItem(at: partial)
                        failures += 1
                        if failures > configuration.resumeAttempts {
                            throw HubError.network(url: target, reason: "the server resumed at byte \(range.map(String.init) ?? "?") instead of \(existing)")
                        }
                        continue
                    }
                }
                let total = expectedSize ?? response.headers.first(name: "Content-Length").flatMap { Int64($0) }.map { $0 + (resumed ? existing : 0) }
                try await write(response, to: partial, append: resumed, label: label, total: total)
                let written = HubClient.fileSize(partial)
                if let total, written != total {
                    throw HubError.network(url: target, reason: "connection closed after \(written) of \(total) bytes")
                }
                progress?.downloadFinished(file: label)
                return
            } catch let error as HubError {
                guard case .network = error, failures < configuration.resumeAttempts else { throw error }
                failures += 1
                try await Task.sleep(nanoseconds: UInt64(min(0.05 * Double(1 << failures), 2) * 1e9))
            }
        }
    }

    private func write(_ response: HTTPClientResponse, to partial: URL, append: Bool, label: String, total: Int64?) async throws {
        let manager = FileManager.default
        if !append || !manager.fileExists(atPath: partial.path) {
            guard manager.createFile(atPath: partial.path, contents: nil) else {
                throw HubError.fileSystem(path: partial.path, reason: "cannot create the file (permissions?)")
            }
        }
        let handle: FileHandle
        do {
            handle = try FileHandle(forWritingTo: partial)
            try handle.seekToEnd()
        } catch {
            throw HubCacheRepo.fileSystemError(error, path: partial.path)
        }
        defer { try? handle.close() }
        var completed = HubClient.fileSize(partial)
        progress?.downloadStarted(file: label, completed: completed, total: total)
        do {
            for try await chunk in response.body {
                do {
                    try chunk.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
                } catch {
                    throw HubCacheRepo.fileSystemError(error, path: partial.path)
                }
                completed += Int64(chunk.readableBytes)
                progress?.downloadProgressed(file: label, completed: completed, total: total)
            }
        } catch let error as HubError {
            throw error
        } catch {
            throw HubClient.networkError(error, url: label)
        }
    }

    // MARK: - Checks

    static func check(_ response: HTTPClientResponse, repoID: String, what: String, url: String) throws {
        let status = Int(response.status.code)
        if (200..<400).contains(status) { return }
        let errorCode = response.headers.first(name: "X-Error-Code") ?? ""
        switch (status, errorCode) {
        case (_, "RepoNotFound"): throw HubError.notFound(what: "repo \(repoID)")
        case (_, "RevisionNotFound"), (_, "EntryNotFound"), (404, _): throw HubError.notFound(what: what)
        case (401, _), (403, _), (_, "GatedRepo"): throw HubError.unauthorized(repoID: repoID, status: status)
        default: throw HubError.httpStatus(url: url, status: status)
        }
    }

    /// LFS files are named by their sha256, regular files by their git blob hash; anything else
    /// (a CDN's opaque ETag) cannot be checked.
    static func verify(_ file: URL, etag: String, file name: String) throws {
        let hex = etag.allSatisfy { $0.isHexDigit }
        let actual: String
        if etag.count == 64, hex {
            actual = try sha256(of: file)
        } else if etag.count == 40, hex {
            actual = try gitBlobSHA1(of: file)
        } else {
            return
        }
        guard actual == etag.lowercased() else {
            try? FileManager.default.removeItem(at: file)
            throw HubError.checksumMismatch(file: name, expected: etag, actual: actual)
        }
    }

    static func sha256(of file: URL) throws -> String {
        var hasher = SHA256()
        try forEachChunk(of: file) { hasher.update(data: $0) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func gitBlobSHA1(of file: URL) throws -> String {
        var hasher = Insecure.SHA1()
        hasher.update(data: Data("blob \(fileSize(file))\0".utf8))
        try forEachChunk(of: file) { hasher.update(data: $0) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    private static func forEachChunk(of file: URL, _ body: (Data) -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: file.path) else {
            throw HubError.fileSystem(path: file.path, reason: "cannot open for reading")
        }
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { body(chunk) }
    }

    /// torch.hub's `-([a-f0-9]*)\.` search: the hex run after the first '-' that is followed by a '.'.
    static func torchHashPrefix(fileName: String) -> String? {
        let characters = Array(fileName)
        for (index, character) in characters.enumerated() where character == "-" {
            var end = index + 1
            while end < characters.count, "0123456789abcdef".contains(characters[end]) { end += 1 }
            if end < characters.count, characters[end] == "." {
                let prefix = String(characters[(index + 1)..<end])
                return prefix.isEmpty ? nil : prefix
            }
        }
        return nil
    }

    /// The first byte of `Content-Range: bytes <first>-<last>/<total or *>`, or nil when malformed.
    static func contentRangeStart(_ header: String) -> Int64? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = trimmed.dropFirst(6).split(separator: "/", maxSplits: 1)
        let bounds = spec.first?.split(separator: "-", omittingEmptySubsequences: false) ?? []
        guard spec.count == 2, bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first >= 0, last >= first else {
            return nil
        }
        return first
    }

    static func normalize(etag: String) -> String {
        var value = etag.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("W/") { value.removeFirst(2) }
        return value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    static func validate(repoID: String) throws {
        let parts = repoID.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") && $0.unicodeScalars.allSatisfy(allowed.contains) }),
              !repoID.contains("--"), !repoID.contains("..") else {
            throw HubError.invalidRepoID(repoID)
        }
    }

    static func encode(_ component: String, slash: Bool) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%" + (slash ? "/" : ""))
        return component.addingPercentEncoding(withAllowedCharacters: allowed) ?? component
    }

    static func fileSize(_ url: URL) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? NSNumber)?.int64Value ?? 0
    }

    /// rename(2) within one folder is atomic: the final name appears only with the complete file.
    static func moveIntoPlace(_ source: URL, _ destination: URL) throws {
        guard rename(source.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            throw errno == ENOSPC ? HubError.diskFull(path: destination.path) : HubError.fileSystem(path: destination.path, reason: reason)
        }
    }

    static func networkError(_ error: Error, url: String) -> HubError {
        if let hubError = error as? HubError { return hubError }
        if let httpError = error as? HTTPClientError {
            switch httpError {
            case .readTimeout, .deadlineExceeded: return .network(url: url, reason: "the server stopped sending data (timed out)")
            case .connectTimeout: return .network(url: url, reason: "connection timed out")
            case .remoteConnectionClosed: return .network(url: url, reason: "the server closed the connection early")
            default: return .network(url: url, reason: "\(httpError)")
            }
        }
        return .network(url: url, reason: "\(error)")
    }
}
