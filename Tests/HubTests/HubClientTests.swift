@testable import Hub
import Foundation
import XCTest

/// Records progress calls so tests can check that bytes were reported.
final class RecordingProgress: DownloadProgressReporting, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var finished: [String] = []
    private(set) var started: [(file: String, completed: Int64)] = []
    func downloadStarted(file: String, completed: Int64, total: Int64?) {
        lock.lock()
        started.append((file, completed))
        lock.unlock()
    }
    func downloadProgressed(file: String, completed: Int64, total: Int64?) {}
    func downloadFinished(file: String) {
        lock.lock()
        finished.append(file)
        lock.unlock()
    }
}

final class HubClientTests: XCTestCase {
    static let repoID = "tiny-org/tiny-diffvsr"
    static let commit = "0123456789abcdef0123456789abcdef01234567"
    static let weights = Data((0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })

    /// A diffusers-layout repo carrying more than the pipeline needs (a `.bin` twin, an fp16 variant,
    /// a README), so the selection is visible in what gets downloaded.
    static let repoFiles: [String: Data] = [
        "model_index.json": Data(#"{"_class_name": "StreamDiffVSRPipeline"}"#.utf8),
        "README.md": Data("# tiny".utf8),
        "unet/config.json": Data(#"{"in_channels": 7}"#.utf8),
        "unet/diffusion_pytorch_model.safetensors": weights,
        "unet/diffusion_pytorch_model.bin": Data(repeating: 1, count: 3000),
        "unet/diffusion_pytorch_model.fp16.safetensors": Data(repeating: 2, count: 3000),
        "text_encoder/config.json": Data("{}".utf8),
        "text_encoder/model.safetensors.index.json": Data(#"{"weight_map": {}}"#.utf8),
        "text_encoder/model-00001-of-00002.safetensors": Data(repeating: 3, count: 4000),
        "text_encoder/model-00002-of-00002.safetensors": Data(repeating: 4, count: 4000),
        "tokenizer/vocab.json": Data(#"{"a": 1}"#.utf8),
        "tokenizer/merges.txt": Data("#version: 0.2".utf8),
        "scheduler/scheduler_config.json": Data(#"{"_class_name": "DDIMScheduler"}"#.utf8),
    ]
    static let lfsFiles: Set<String> = Set(repoFiles.keys.filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") })
    static let expectedSelection = [
        "model_index.json", "scheduler/scheduler_config.json",
        "text_encoder/config.json", "text_encoder/model-00001-of-00002.safetensors",
        "text_encoder/model-00002-of-00002.safetensors", "text_encoder/model.safetensors.index.json",
        "tokenizer/merges.txt", "tokenizer/vocab.json",
        "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
    ]

    var server: HubTestServer!
    var cacheDirectory: URL!

    override func setUp() async throws {
        server = HubTestServer()
        server.addRepo(Self.repoID, commit: Self.commit, files: Self.repoFiles, lfs: Self.lfsFiles)
        try await server.start()
        cacheDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("hub-tests-\(UUID().uuidString)")
    }

    override func tearDown() async throws {
        await server.stop()
        try? FileManager.default.removeItem(at: cacheDirectory)
    }

    func configuration(offline: Bool = false, token: String? = nil, readTimeout: Double = 5, resumeAttempts: Int = 5) -> HubConfiguration {
        HubConfiguration(endpoint: server.endpoint, token: token, offline: offline,
                         cacheDirectory: cacheDirectory.appendingPathComponent("hub"),
                         torchHubDirectory: cacheDirectory.appendingPathComponent("torch/hub"),
                         readTimeout: readTimeout, resumeAttempts: resumeAttempts)
    }

    func client(_ configuration: HubConfiguration, progress: DownloadProgressReporting? = nil) -> HubClient {
        HubClient(configuration: configuration, progress: progress)
    }

    var repoFolder: URL { cacheDirectory.appendingPathComponent("hub/models--tiny-org--tiny-diffvsr") }

    func filesBelow(_ folder: URL) -> [String] {
        (FileManager.default.enumerator(atPath: folder.path)?.allObjects as? [String] ?? []).sorted()
    }

    func testSnapshotFetchesThePipelineFilesIntoTheHuggingFaceCacheLayout() async throws {
        let progress = RecordingProgress()
        let folder = try await client(configuration(), progress: progress).snapshot(repoID: Self.repoID)
        XCTAssertEqual(folder.standardizedFileURL.path, repoFolder.appendingPathComponent("snapshots/\(Self.commit)").standardizedFileURL.path)
        let snapshotFiles = filesBelow(folder).filter { !$0.hasSuffix("/") && !["unet", "text_encoder", "tokenizer", "scheduler"].contains($0) }
        XCTAssertEqual(snapshotFiles, Self.expectedSelection)
        for file in Self.expectedSelection {
            XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent(file)), Self.repoFiles[file], file)
        }
        // Blobs are named by ETag, links are relative, the branch ref holds the commit.
        let weightsSHA = HubTestServer.sha256(Self.weights)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: folder.appendingPathComponent("unet/diffusion_pytorch_model.safetensors").path),
                       "../../../blobs/" + weightsSHA)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: folder.appendingPathComponent("model_index.json").path),
                       "../../blobs/" + HubTestServer.gitBlobSHA1(Self.repoFiles["model_index.json"]!))
        XCTAssertEqual(try String(contentsOf: repoFolder.appendingPathComponent("refs/main"), encoding: .utf8), Self.commit)
        XCTAssertFalse(filesBelow(repoFolder.appendingPathComponent("blobs")).contains { $0.hasSuffix(".incomplete") })
        XCTAssertEqual(Set(progress.finished), Set(Self.expectedSelection.map { $0 }))

        // Second run: one metadata request, no downloads. Offline: no requests at all.
        server.clearLog()
        _ = try await client(configuration()).snapshot(repoID: Self.repoID)
        XCTAssertEqual(server.requests.map(\.path), ["/api/models/\(Self.repoID)/revision/main"])
        server.clearLog()
        let offlineFolder = try await client(configuration(offline: true)).snapshot(repoID: Self.repoID)
        XCTAssertEqual(offlineFolder.path, folder.path)
        XCTAssertTrue(server.requests.isEmpty)
    }

    func testADroppedConnectionIsResumedWithARangeRequest() async throws {
        server.inject(.dropConnection(afterBytes: 7000, times: 2), forFile: "unet/diffusion_pytorch_model.safetensors")
        let folder = try await client(configuration()).snapshot(repoID: Self.repoID, patterns: ["unet/diffusion_pytorch_model.safetensors"])
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")), Self.weights)
        let ranges = server.requests.filter { $0.path.hasPrefix("/lfs/") }.map { $0.range ?? "none" }
        // Each retry resumes where the partial file ends. How much of the 7000 bytes sent before a drop
        // reached the file depends on the socket's timing, so only the shape of the resumes is fixed.
        XCTAssertEqual(ranges.count, 3, "\(ranges)")
        XCTAssertEqual(ranges.first, "none")
        let offsets = ranges.dropFirst().compactMap { Int($0.dropFirst("bytes=".count).dropLast()) }
        XCTAssertEqual(offsets.count, 2, "\(ranges)")
        XCTAssertTrue(offsets.allSatisfy { $0 > 0 } && offsets == offsets.sorted() && offsets[1] <= 14000, "\(ranges)")
    }

    func testAnInterruptedDownloadNeverLooksCompleteAndResumesLater() async throws {
        server.inject(.dropConnection(afterBytes: 5000, times: 10), forFile: "unet/diffusion_pytorch_model.safetensors")
        do {
            _ = try await client(configuration(resumeAttempts: 0)).snapshot(repoID: Self.repoID, patterns: ["unet/*.safetensors"])
            XCTFail("the download should have failed")
        } catch let error as HubError {
            guard case .network = error else { return XCTFail("\(error)") }
        }
        let sha = HubTestServer.sha256(Self.weights)
        XCTAssertFalse(FileManager.default.fileExists(atPath: repoFolder.appendingPathComponent("blobs/\(sha)").path))
        XCTAssertNil(HubCacheRepo(cacheDirectory: configuration().cacheDirectory, repoID: Self.repoID)
            .cachedFile(commit: Self.commit, path: "unet/diffusion_pytorch_model.safetensors"))
        XCTAssertEqual(HubClient.fileSize(repoFolder.appendingPathComponent("blobs/\(sha).incomplete")), 5000)

        server.inject(nil, forFile: "unet/diffusion_pytorch_model.safetensors")
        server.clearLog()
        let folder = try await client(configuration()).snapshot(repoID: Self.repoID, patterns: ["unet/*.safetensors"])
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")), Self.weights)
        XCTAssertEqual(server.requests.filter { $0.path == "/lfs/" + sha }.map(\.range), ["bytes=5000-"])
    }

    func testContentThatDoesNotMatchItsChecksumIsRejectedAndRemoved() async throws {
        server.inject(.corruptContent, forFile: "unet/diffusion_pytorch_model.safetensors")
        do {
            _ = try await client(configuration()).snapshot(repoID: Self.repoID)
            XCTFail("a corrupt download must not be accepted")
        } catch let HubError.checksumMismatch(file, expected, _) {
            XCTAssertEqual(file, "unet/diffusion_pytorch_model.safetensors")
            XCTAssertEqual(expected, HubTestServer.sha256(Self.weights))
        }
        XCTAssertFalse(filesBelow(repoFolder.appendingPathComponent("blobs")).contains { $0.hasPrefix(HubTestServer.sha256(Self.weights)) })
    }

    func testHTTPErrorsBecomeActionableErrors() async throws {
        await assertThrows(HubError.notFound(what: "repo tiny-org/missing")) {
            _ = try await self.client(self.configuration()).snapshot(repoID: "tiny-org/missing")
        }
        await assertThrows(HubError.notFound(what: "tiny-org/tiny-diffvsr at revision 'v9'")) {
            _ = try await self.client(self.configuration()).snapshot(repoID: Self.repoID, revision: "v9")
        }
        server.inject(.status(404), forFile: "unet/config.json")
        await assertThrows(HubError.notFound(what: "tiny-org/tiny-diffvsr/unet/config.json at \(Self.commit)")) {
            _ = try await self.client(self.configuration()).snapshot(repoID: Self.repoID)
        }
        server.inject(nil, forFile: "unet/config.json")
        server.requiredToken = "hf_secret"
        await assertThrows(HubError.unauthorized(repoID: Self.repoID, status: 401)) {
            _ = try await self.client(self.configuration()).snapshot(repoID: Self.repoID)
        }
        _ = try await client(configuration(token: "hf_secret")).snapshot(repoID: Self.repoID)
        XCTAssertTrue(server.requests.filter { !$0.path.hasPrefix("/lfs/") }.allSatisfy { $0.authorization == "Bearer hf_secret" || $0.authorization == nil })
        XCTAssertTrue("\(HubError.unauthorized(repoID: Self.repoID, status: 401))".contains("HF_TOKEN"))
        XCTAssertThrowsError(try HubClient.validate(repoID: "../etc")) { XCTAssertTrue("\($0)".contains("org/name")) }
    }

    func testSlowResponsesCompleteAndStalledOnesTimeOut() async throws {
        server.inject(.slow(secondsPerChunk: 0.01), forFile: "unet/diffusion_pytorch_model.safetensors")
        _ = try await client(configuration(readTimeout: 2)).snapshot(repoID: Self.repoID, patterns: ["unet/*.safetensors"])
        try FileManager.default.removeItem(at: cacheDirectory)
        server.inject(.slow(secondsPerChunk: 1.5), forFile: "unet/diffusion_pytorch_model.safetensors")
        do {
            _ = try await client(configuration(readTimeout: 0.3, resumeAttempts: 0)).snapshot(repoID: Self.repoID, patterns: ["unet/*.safetensors"])
            XCTFail("a stalled download must time out")
        } catch let HubError.network(_, reason) {
            XCTAssertTrue(reason.contains("timed out"), reason)
        }
    }

    func testOfflineWithoutACacheSaysWhatIsMissingAndHowToGetIt() async throws {
        do {
            _ = try await client(configuration(offline: true)).snapshot(repoID: Self.repoID)
            XCTFail("nothing is cached")
        } catch let error as HubError {
            XCTAssertTrue("\(error)".contains("HF_HUB_OFFLINE=1"), "\(error)")
            XCTAssertTrue("\(error)".contains("huggingface-cli download \(Self.repoID)"), "\(error)")
        }
        XCTAssertTrue(server.requests.isEmpty)
    }

    func testAnUnreachableHubFallsBackToACompleteCachedSnapshot() async throws {
        let folder = try await client(configuration()).snapshot(repoID: Self.repoID)
        var unreachable = configuration(readTimeout: 1)
        unreachable.endpoint = URL(string: "http://127.0.0.1:1")!
        let again = try await client(unreachable).snapshot(repoID: Self.repoID)
        XCTAssertEqual(again.path, folder.path)
    }

    /// Tests/HubTests/Fixtures/hf_cache was written by the real huggingface_hub (tools/fixtures/gen_checkpoints.py).
    /// Read from the source tree: resource copying does not promise to keep symlinks.
    func testReadsACacheWrittenByHuggingFaceHubOffline() async throws {
        let cache = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/hf_cache")
        var offline = configuration(offline: true)
        offline.cacheDirectory = cache
        let folder = try await client(offline).snapshot(repoID: "tiny-org/cached-diffvsr")
        XCTAssertEqual(folder.lastPathComponent, "89abcdef0123456789abcdef0123456789abcdef")
        let index = try String(contentsOf: folder.appendingPathComponent("model_index.json"), encoding: .utf8)
        XCTAssertTrue(index.contains("StreamDiffVSRPipeline"))
        let weights = try Data(contentsOf: folder.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        XCTAssertEqual(weights.count, 8 + Int(weights.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }) + 64 * 4)
        let cacheRepo = HubCacheRepo(cacheDirectory: cache, repoID: "tiny-org/cached-diffvsr")
        XCTAssertEqual(cacheRepo.cachedPaths(commit: folder.lastPathComponent),
                       ["model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json",
                        "unet/config.json", "unet/diffusion_pytorch_model.safetensors"])
        await assertThrows(HubError.offlineNotCached(repoID: "tiny-org/cached-diffvsr", revision: "v2",
                                                     missing: ["refs/v2 (the repo was never downloaded at this revision)"])) {
            _ = try await self.client(offline).snapshot(repoID: "tiny-org/cached-diffvsr", revision: "v2")
        }
    }

    func testTorchHubDownloadChecksTheHashPrefixInTheFileName() async throws {
        let data = Data((0..<5000).map { UInt8($0 % 251) })
        let prefix = String(HubTestServer.sha256(data).prefix(8))
        server.addPlainFile("raft_tiny-\(prefix).pth", data)
        server.addPlainFile("raft_tiny-00000000.pth", data)
        let hub = client(configuration())
        let directory = hub.configuration.torchCheckpointsDirectory
        server.inject(.dropConnection(afterBytes: 2000, times: 1), forFile: "raft_tiny-\(prefix).pth")
        let file = try await hub.cachedDownload(url: server.endpoint.appendingPathComponent("files/raft_tiny-\(prefix).pth"), into: directory)
        XCTAssertEqual(file.path, directory.appendingPathComponent("raft_tiny-\(prefix).pth").path)
        XCTAssertEqual(try Data(contentsOf: file), data)

        server.clearLog()
        _ = try await client(configuration(offline: true)).cachedDownload(url: server.endpoint.appendingPathComponent("files/raft_tiny-\(prefix).pth"), into: directory)
        XCTAssertTrue(server.requests.isEmpty)

        await assertThrows(HubError.checksumMismatch(file: "raft_tiny-00000000.pth", expected: "00000000...", actual: HubTestServer.sha256(data))) {
            _ = try await hub.cachedDownload(url: self.server.endpoint.appendingPathComponent("files/raft_tiny-00000000.pth"), into: directory)
        }
        XCTAssertEqual(filesBelow(directory), ["raft_tiny-\(prefix).pth"])
        XCTAssertEqual(HubClient.torchHashPrefix(fileName: "raft_large_C_T_SKHT_V2-ff5fadd5.pth"), "ff5fadd5")
        XCTAssertNil(HubClient.torchHashPrefix(fileName: "model.pth"))
        do {
            _ = try await client(configuration(offline: true)).cachedDownload(url: URL(string: "https://example.invalid/x-1234.pth")!, into: directory)
            XCTFail("offline and not cached")
        } catch let HubError.offlineURLNotCached(_, path) {
            XCTAssertEqual(path, directory.appendingPathComponent("x-1234.pth").path)
        }
    }

    func testConfigurationFollowsTheHuggingFaceAndTorchEnvironment() throws {
        let defaults = HubConfiguration.fromEnvironment(["HOME": "/home/u"])
        XCTAssertEqual(defaults.endpoint.absoluteString, "https://huggingface.co")
        XCTAssertEqual(defaults.cacheDirectory.path, "/home/u/.cache/huggingface/hub")
        XCTAssertEqual(defaults.torchCheckpointsDirectory.path, "/home/u/.cache/torch/hub/checkpoints")
        XCTAssertFalse(defaults.offline)
        XCTAssertNil(defaults.token)

        let home = HubConfiguration.fromEnvironment(["HOME": "/home/u", "HF_HOME": "/data/hf", "TORCH_HOME": "/data/torch",
                                                     "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9/", "HF_TOKEN": "hf_abc"])
        XCTAssertEqual(home.cacheDirectory.path, "/data/hf/hub")
        XCTAssertEqual(home.torchHubDirectory.path, "/data/torch/hub")
        XCTAssertEqual(home.endpoint.absoluteString, "http://127.0.0.1:9")
        XCTAssertTrue(home.offline)
        XCTAssertEqual(home.token, "hf_abc")

        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("hf-token-\(UUID().uuidString)")
        try "hf_from_file\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let explicit = HubConfiguration.fromEnvironment(["HOME": "/home/u", "HF_HUB_CACHE": "/cache", "HF_HOME": "/ignored",
                                                         "HF_TOKEN_PATH": tokenFile.path, "HF_HUB_OFFLINE": "0"])
        XCTAssertEqual(explicit.cacheDirectory.path, "/cache")
        XCTAssertEqual(explicit.token, "hf_from_file")
        XCTAssertFalse(explicit.offline)
    }

    func testFileSelectionPrefersOneWeightSetPerComponent() {
        XCTAssertEqual(ModelFileSelection.select(from: Array(Self.repoFiles.keys)), Self.expectedSelection)
        let withVariant = ModelFileSelection.select(from: Array(Self.repoFiles.keys), variant: "fp16")
        XCTAssertTrue(withVariant.contains("unet/diffusion_pytorch_model.fp16.safetensors"))
        XCTAssertFalse(withVariant.contains("unet/diffusion_pytorch_model.safetensors"))
        XCTAssertTrue(withVariant.contains("text_encoder/model-00001-of-00002.safetensors"))
        XCTAssertEqual(ModelFileSelection.select(from: ["vae/config.json", "vae/diffusion_pytorch_model.bin", "model_index.json"]),
                       ["model_index.json", "vae/config.json", "vae/diffusion_pytorch_model.bin"])
        XCTAssertTrue(ModelFileSelection.matches("unet/diffusion_pytorch_model.safetensors", pattern: "*.safetensors"))
        XCTAssertTrue(ModelFileSelection.matches("tokenizer/vocab.json", pattern: "tokenizer/*"))
        XCTAssertTrue(ModelFileSelection.matches("a1.bin", pattern: "a[0-9].b?n"))
        XCTAssertFalse(ModelFileSelection.matches("unet/config.json", pattern: "vae/*"))
    }

    func testConcurrentRunsDownloadEachBlobOnce() async throws {
        server.inject(.slow(secondsPerChunk: 0.01), forFile: "unet/diffusion_pytorch_model.safetensors")
        let first = client(configuration()), second = client(configuration())
        async let a = first.snapshot(repoID: Self.repoID)
        async let b = second.snapshot(repoID: Self.repoID)
        let (folderA, folderB) = try await (a, b)
        XCTAssertEqual(folderA, folderB)
        XCTAssertEqual(try Data(contentsOf: folderA.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")), Self.weights)
        XCTAssertEqual(server.requests.filter { $0.path == "/lfs/" + HubTestServer.sha256(Self.weights) }.count, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cacheDirectory.appendingPathComponent("hub/.locks/models--tiny-org--tiny-diffvsr").path))
    }

    func testProgressLineShowsBytesRateAndETA() {
        let bar = TerminalProgressBar(width: 10)
        bar.downloadStarted(file: "unet.safetensors", completed: 0, total: 4_000_000)
        let line = bar.line(file: "unet.safetensors", completed: 1_000_000, total: 4_000_000, now: Date().addingTimeInterval(1))
        XCTAssertTrue(line.hasPrefix("unet.safetensors [##........] 1.0 MB/4.0 MB 25% ETA 00:03"), line)
        XCTAssertTrue(line.hasSuffix("/s"), line)
        XCTAssertEqual(TerminalProgressBar.duration(3725), "1:02:05")
    }

    func testDiskFullIsReportedAsSuch() {
        let error = NSError(domain: NSCocoaErrorDomain, code: NSFileWriteOutOfSpaceError)
        XCTAssertEqual(HubCacheRepo.fileSystemError(error, path: "/cache/blobs/x"), .diskFull(path: "/cache/blobs/x"))
        XCTAssertTrue("\(HubError.diskFull(path: "/x"))".contains("no space left"))
    }

    func assertThrows(_ expected: HubError, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> Void) async {
        do {
            try await body()
            XCTFail("expected \(expected)", file: file, line: line)
        } catch {
            XCTAssertEqual(error as? HubError, expected, "\(error)", file: file, line: line)
        }
    }
}
