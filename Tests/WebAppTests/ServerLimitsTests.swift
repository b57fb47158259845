import Foundation
import HTTPTypes
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import Media
import NIOCore
import XCTest
@testable import WebApp

/// Issue 15 items 9 and 10: every cap refuses with a status and one line, and the server keeps answering;
/// old uploads and results go on a timer; ffmpeg reads nothing but the upload itself.
final class ServerLimitsTests: WebAppTestCase {
    struct ErrorReply: Decodable { let error: String }
    struct UploadID: Decodable { let id: String }

    func assertRefused(_ response: TestResponse, _ status: HTTPResponse.Status, containing text: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(response.status, status, String(buffer: response.body), file: file, line: line)
        let reply = try json(ErrorReply.self, response, file: file, line: line)
        XCTAssertTrue(reply.error.contains(text), "\"\(reply.error)\" does not mention \"\(text)\"", file: file, line: line)
    }

    func testPendingUploadsAreCapped() async throws {
        let clip = try makeClipWithAudio()
        var configuration = configuration()
        configuration.limits.maxPendingUploads = 2
        try await withServer(configuration) { [self] client in
            let first = try json(UploadID.self, try await upload(client, path: clip, name: "a.mp4"))
            _ = try json(UploadID.self, try await upload(client, path: clip, name: "b.mp4"))
            try assertRefused(try await upload(client, path: clip, name: "c.mp4"), .serviceUnavailable, containing: "2 uploads are already waiting")
            XCTAssertEqual(contents(of: temporaryFolder).count, 2)
            // Removing one makes room again.
            do {
                let reply = try await client.execute(uri: "/api/uploads/\(first.id)", method: .delete)
                XCTAssertEqual(reply.status, .noContent, String(buffer: reply.body))
            }
            do {
                let reply = try await upload(client, path: clip, name: "c.mp4")
                XCTAssertEqual(reply.status, .created, String(buffer: reply.body))
            }
        }
    }

    func testQueuedJobsAreCappedAndTheRefusedUploadStaysUsable() async throws {
        let clip = try makeClipWithAudio()
        var configuration = configuration()
        configuration.limits.maxQueuedJobs = 1
        try await withServer(configuration, provider: NearestProvider(secondsPerFrame: 0.2)) { [self] client in
            var ids: [String] = []
            for name in ["a.mp4", "b.mp4", "c.mp4"] { ids.append(try json(UploadID.self, try await upload(client, path: clip, name: name)).id) }
            let running = try await startJob(client, upload: ids[0])
            _ = try await poll(client, job: running.id) { $0.state == .running }
            _ = try await startJob(client, upload: ids[1])
            let refused = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonContent, body: ByteBuffer(string: "{\"upload\": \"\(ids[2])\"}"))
            try assertRefused(refused, .serviceUnavailable, containing: "1 jobs are already waiting")
            do {
                let reply = try await client.execute(uri: "/api/uploads/\(ids[2])/preview", method: .get)
                XCTAssertEqual(reply.status, .ok, String(buffer: reply.body))
            }
            do {
                let reply = try await client.execute(uri: "/api/jobs/\(running.id)/cancel", method: .post, headers: jsonContent, body: ByteBuffer(string: "{}"))
                XCTAssertEqual(reply.status, .accepted, String(buffer: reply.body))
            }
        }
    }

    func testVideosWithTooManyFramesAreRefused() async throws {
        let clip = try makeClipWithAudio()
        var configuration = configuration()
        configuration.limits.maxFramesPerJob = 5
        try await withServer(configuration) { [self] client in
            try assertRefused(try await upload(client, path: clip, name: "clip.mp4"), .unprocessableContent, containing: "10 frames, more than the limit of 5")
            XCTAssertEqual(contents(of: temporaryFolder), [])
        }
    }

    func testUploadsAreRefusedWhenTheDiskIsNearlyFull() async throws {
        let clip = try makeClipWithAudio()
        var configuration = configuration()
        configuration.limits.minFreeDiskBytes = Int64.max / 4
        try await withServer(configuration) { [self] client in
            let response = try await upload(client, path: clip, name: "clip.mp4")
            XCTAssertEqual(response.status.code, 507, String(buffer: response.body))
            XCTAssertTrue(String(buffer: response.body).contains("disk is nearly full"))
            do {
                let reply = try await client.execute(uri: "/api/info", method: .get)
                XCTAssertEqual(reply.status, .ok, String(buffer: reply.body))
            }
        }
    }

    func testStreamsAndFramesPerStreamAreCapped() async throws {
        var configuration = configuration()
        configuration.limits.maxStreams = 1
        configuration.limits.maxFramesPerJob = 2
        let frame = try StreamFrameCodec.encode(RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 50, count: 192)), as: .rgb8)
        try await withServer(configuration) { client in
            let port = try XCTUnwrap(client.port)
            let logger = Logger(label: "limits-test")
            let secondStream = SharedValue<[String]>([])
            let framesSeen = SharedValue<[String]>([])
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/api/stream", configuration: .init(maxFrameSize: 1 << 20), logger: logger) { inbound, outbound, _ in
                var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                try await outbound.write(.binary(ByteBuffer(bytes: frame)))
                _ = try await iterator.next()
                _ = try await iterator.next()
                // While this stream is open, a second one is refused.
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/api/stream", logger: logger) { inbound2, _, _ in
                    var second = inbound2.messages(maxSize: 1 << 16).makeAsyncIterator()
                    if case .text(let text) = try await second.next() { secondStream.set([text]) }
                }
                try await outbound.write(.binary(ByteBuffer(bytes: frame)))
                _ = try await iterator.next()
                _ = try await iterator.next()
                try await outbound.write(.binary(ByteBuffer(bytes: frame)))
                if case .text(let text) = try await iterator.next() { framesSeen.set([text]) }
            }
            XCTAssertTrue(secondStream.value.first?.contains("1 streams are already open") == true, "\(secondStream.value)")
            XCTAssertTrue(framesSeen.value.first?.contains("at most 2 frames") == true, "\(framesSeen.value)")
        }
    }

    func testExpiredUploadsAndOldResultsAreSweptOnATimer() async throws {
        let clip = try makeClipWithAudio()
        var configuration = configuration()
        configuration.limits.uploadLifetime = 4
        configuration.limits.resultRetention = 4
        configuration.limits.sweepInterval = 0.1
        let leftover = (outputFolder as NSString).appendingPathComponent("from-an-earlier-run-0123abcd_x4.mp4")
        let usersOwn = (outputFolder as NSString).appendingPathComponent("holiday_x4.mp4")
        try await withServer(configuration) { [self] client in
            try Data("old".utf8).write(to: URL(fileURLWithPath: leftover))
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: leftover)
            try Data("mine".utf8).write(to: URL(fileURLWithPath: usersOwn))
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: usersOwn)
            let unclaimed = try json(UploadID.self, try await upload(client, path: clip, name: "a.mp4"))
            let used = try json(UploadID.self, try await upload(client, path: clip, name: "b.mp4"))
            let job = try await startJob(client, upload: used.id)
            let final = try await poll(client, job: job.id) { $0.state.isFinal }
            XCTAssertEqual(final.state, .finished)
            XCTAssertEqual(contents(of: outputFolder).count, 2, "the earlier run's leftover goes at the first sweep, the user's file stays")
            // No request arrives in between: the timer alone removes both.
            try await Task.sleep(nanoseconds: 6_000_000_000)
            XCTAssertEqual(contents(of: temporaryFolder), [])
            XCTAssertEqual(contents(of: outputFolder), ["holiday_x4.mp4"])
            do {
                let reply = try await client.execute(uri: "/api/uploads/\(unclaimed.id)/preview", method: .get)
                XCTAssertEqual(reply.status, .notFound, String(buffer: reply.body))
            }
            do {
                let reply = try await client.execute(uri: "/api/jobs/\(job.id)", method: .get)
                XCTAssertEqual(reply.status, .notFound, String(buffer: reply.body))
            }
        }
    }

    /// An "mp4" that is an HLS playlist naming a local file: probed by content, ffprobe followed it and
    /// accepted the other file's video. Only allow-listed containers may open now.
    func testPlaylistsThatNameOtherFilesAreRefused() async throws {
        let secret = try makeClipWithAudio("secret.mp4")
        let playlist = scratch.appendingPathComponent("playlist.mp4")
        try Data("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n\(secret)\n#EXT-X-ENDLIST\n".utf8).write(to: playlist)
        let concat = scratch.appendingPathComponent("list.mp4")
        try Data("ffconcat version 1.0\nfile '\(secret)'\n".utf8).write(to: concat)
        try await withServer { [self] client in
            try assertRefused(try await upload(client, path: playlist.path, name: "playlist.mp4"), .unsupportedMediaType, containing: "not a video")
            try assertRefused(try await upload(client, path: concat.path, name: "list.mp4"), .unsupportedMediaType, containing: "not a video")
            do {
                let reply = try await upload(client, path: secret, name: "real.mp4")
                XCTAssertEqual(reply.status, .created, String(buffer: reply.body))
            }
        }
        let restricted = tools.forUntrustedInput
        XCTAssertTrue(restricted.sourceInputOptions.contains("-protocol_whitelist"))
        XCTAssertThrowsError(try VideoProbe.probe(playlist.path, tools: restricted))
    }
}
