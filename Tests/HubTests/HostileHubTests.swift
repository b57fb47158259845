@testable import Hub
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import XCTest

/// A hub that lies: file names and commits that would escape the cache, redirects that would carry the
/// token elsewhere, and replies that are not what was asked for. Each ends in a clear error, or in a
/// correct download, and nothing outside the cache is touched.
/// Sendable because the test server's handlers call back into the test: its stored properties are set
/// in `setUp`, before any handler exists, and only read afterwards.
final class HostileHubTests: XCTestCase, @unchecked Sendable {
    var server: HubTestServer!
    var cacheDirectory: URL!
    let repoID = "tiny-org/tiny-diffvsr"
    let commit = "0123456789abcdef0123456789abcdef01234567"
    let weights = Data((0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 7 >> 3) })

    override func setUp() async throws {
        server = HubTestServer()
        server.addRepo(repoID, commit: commit, files: ["model_index.json": Data("{}".utf8), "unet/w.safetensors": weights],
                       lfs: ["unet/w.safetensors"])
        try await server.start()
        cacheDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-hub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        await server.stop()
        try? FileManager.default.removeItem(at: cacheDirectory)
    }

    func client(token: String? = nil, resumeAttempts: Int = 2) -> HubClient {
        HubClient(configuration: HubConfiguration(endpoint: server.endpoint, token: token, offline: false,
                                                  cacheDirectory: cacheDirectory.appendingPathComponent("hub"),
                                                  torchHubDirectory: cacheDirectory.appendingPathComponent("torch"),
                                                  readTimeout: 5, resumeAttempts: resumeAttempts),
                  progress: nil)
    }

    func repoInfo(sha: String, files: [String]) -> Response {
        let json: [String: Any] = ["sha": sha, "siblings": files.map { ["rfilename": $0] }]
        let data = try! JSONSerialization.data(withJSONObject: json)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func assertUnsafe(_ field: String, _ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async {
        do {
            try await body()
            XCTFail("expected the \(field) to be refused", file: file, line: line)
        } catch let HubError.unsafeServerReply(refused, _, _) {
            XCTAssertEqual(refused, field, file: file, line: line)
        } catch {
            XCTFail("expected unsafeServerReply(\(field)), got \(error)", file: file, line: line)
        }
    }

    func testFileNamesAndCommitsThatLeaveTheCacheAreRefusedBeforeAnyPathIsMade() async throws {
        let victim = cacheDirectory.appendingPathComponent("victim.txt")
        try Data("keep me".utf8).write(to: victim)
        let commit = self.commit
        for name in ["../../../../victim.txt", "/etc/passwd", "unet//w.safetensors", "unet/./w", "", "a\\..\\b"] {
            server.override = { [unowned self] request in
                request.uri.path.hasPrefix("/api/") ? repoInfo(sha: commit, files: ["model_index.json", name]) : nil
            }
            await assertUnsafe("rfilename") { _ = try await self.client().snapshot(repoID: self.repoID, patterns: ["*"]) }
        }
        for sha in ["../../../../victim", "0123456789ABCDEF0123456789ABCDEF01234567", "abc"] {
            server.override = { [unowned self] request in
                request.uri.path.hasPrefix("/api/") ? repoInfo(sha: sha, files: ["model_index.json"]) : nil
            }
            await assertUnsafe("sha") { _ = try await self.client().snapshot(repoID: self.repoID, patterns: ["*"]) }
        }
        XCTAssertEqual(try String(contentsOf: victim, encoding: .utf8), "keep me")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cacheDirectory.appendingPathComponent("hub/models--tiny-org--tiny-diffvsr/snapshots").path))
    }

    func testTheCacheNeverLinksOutsideItsSnapshotNorDeletesAFolder() throws {
        let cache = HubCacheRepo(cacheDirectory: cacheDirectory.appendingPathComponent("hub"), repoID: repoID)
        let etag = String(repeating: "a", count: 64)
        XCTAssertThrowsError(try cache.link(commit: commit, path: "../../../escape", etag: etag))
        XCTAssertThrowsError(try cache.link(commit: "../../x", path: "a", etag: etag))
        XCTAssertThrowsError(try cache.link(commit: commit, path: "a", etag: "../../x"))
        // A folder where the link should go (a server that once sent "unet" as a file) stays.
        let folder = cache.snapshotFolder(commit: commit).appendingPathComponent("unet")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: folder.appendingPathComponent("inside.txt"))
        XCTAssertThrowsError(try cache.link(commit: commit, path: "unet", etag: etag)) { XCTAssertTrue("\($0)".contains("not replacing"), "\($0)") }
        XCTAssertEqual(try String(contentsOf: folder.appendingPathComponent("inside.txt"), encoding: .utf8), "precious")
        // A folder of the snapshot that is a link to elsewhere is not followed out of the cache.
        let outside = cacheDirectory.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: cache.snapshotFolder(commit: commit).appendingPathComponent("sneaky"), withDestinationURL: outside)
        XCTAssertThrowsError(try cache.link(commit: commit, path: "sneaky/file", etag: etag))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path), [])
        // A ref file with something else than a commit in it is ignored.
        try FileManager.default.createDirectory(at: cache.folder.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data("../../../../tmp".utf8).write(to: cache.folder.appendingPathComponent("refs/main"))
        XCTAssertNil(cache.commit(forRevision: "main"))
    }

    func testTheTokenIsDroppedWhenARedirectLeavesTheHubsOrigin() async throws {
        // Same host, another port: the old check compared host names only and sent the token along.
        let storage = HubTestServer()
        storage.addRepo(repoID, commit: commit, files: ["unet/w.safetensors": weights], lfs: ["unet/w.safetensors"])
        try await storage.start()
        defer { Task { await storage.stop() } }
        let sha = HubTestServer.sha256(weights)
        let storageURL = storage.endpoint.absoluteString
        server.override = { request in
            guard request.uri.path.hasSuffix("/resolve/\(self.commit)/unet/w.safetensors") else { return nil }
            return Response(status: .found, headers: [.init("X-Linked-Etag")!: "\"\(sha)\"", .init("X-Linked-Size")!: "\(self.weights.count)",
                                                      .location: storageURL + "/lfs/" + sha])
        }
        let folder = try await client(token: "hf_secret_token").snapshot(repoID: repoID, patterns: ["unet/*"])
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("unet/w.safetensors")), weights)
        let storageRequests = storage.requests
        XCTAssertFalse(storageRequests.isEmpty)
        XCTAssertTrue(storageRequests.allSatisfy { $0.authorization == nil }, "\(storageRequests.map(\.authorization))")
        XCTAssertTrue(server.requests.filter { $0.path.hasPrefix("/api/") }.allSatisfy { $0.authorization == "Bearer hf_secret_token" })

        XCTAssertTrue(HubPathSafety.sameOrigin(URL(string: "https://hf.co/a")!, URL(string: "https://HF.co:443/b")!))
        XCTAssertFalse(HubPathSafety.sameOrigin(URL(string: "https://hf.co/a")!, URL(string: "http://hf.co/a")!))
        XCTAssertFalse(HubPathSafety.sameOrigin(URL(string: "https://hf.co/a")!, URL(string: "https://hf.co:8443/a")!))
        XCTAssertFalse(HubPathSafety.sameOrigin(URL(string: "https://hf.co/a")!, URL(string: "https://evil.example/a")!))
    }

    func testARedirectPastTheLimitIsAnErrorNotAFile() async throws {
        let sha = HubTestServer.sha256(weights)
        server.override = { request in
            request.uri.path.hasPrefix("/lfs/") ? Response(status: .found, headers: [.location: "/lfs/\(sha)"]) : nil
        }
        do {
            _ = try await client().snapshot(repoID: repoID, patterns: ["unet/*"])
            XCTFail("an endless redirect must fail")
        } catch let HubError.httpStatus(_, status) {
            XCTAssertEqual(status, 302)
        }
    }

    func testAResumedReplyThatStartsElsewhereIsNotAppended() async throws {
        let sha = HubTestServer.sha256(weights)
        let blobs = cacheDirectory.appendingPathComponent("hub/models--tiny-org--tiny-diffvsr/blobs")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        try weights.prefix(5000).write(to: blobs.appendingPathComponent(sha + ".incomplete"))
        let weights = self.weights
        // Asked for bytes=5000-, this server sends as many bytes as were asked for, but from byte 0 (and
        // says so): appended, they would make a file of the right size and the wrong content.
        let wrongPart = weights.prefix(weights.count - 5000)
        server.override = { request in
            guard request.uri.path.hasPrefix("/lfs/"), request.headers[.range] != nil else { return nil }
            return Response(status: .partialContent,
                            headers: [.contentRange: "bytes 0-\(wrongPart.count - 1)/\(weights.count)", .contentLength: "\(wrongPart.count)"],
                            body: .init(byteBuffer: ByteBuffer(bytes: wrongPart)))
        }
        let folder = try await client().snapshot(repoID: repoID, patterns: ["unet/*"])
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("unet/w.safetensors")), weights)
        XCTAssertEqual(HubClient.contentRangeStart("bytes 5000-19999/20000"), 5000)
        XCTAssertEqual(HubClient.contentRangeStart("bytes */20000"), nil)
        XCTAssertEqual(HubClient.contentRangeStart("items 0-1/2"), nil)
    }
}
