import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import XCTest
@testable import WebApp

/// Every refused input gets a 4xx and one line the page can show; upload names never become paths.
final class BadInputTests: WebAppTestCase {
    struct ErrorReply: Decodable { let error: String }

    func assertRefused(_ response: TestResponse, _ status: HTTPResponse.Status, containing text: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(response.status, status, String(buffer: response.body), file: file, line: line)
        let reply = try json(ErrorReply.self, response, file: file, line: line)
        XCTAssertTrue(reply.error.contains(text), "\"\(reply.error)\" does not mention \"\(text)\"", file: file, line: line)
    }

    func testEachBadVideoIsRefusedWithItsReason() async throws {
        let text = scratch.appendingPathComponent("notes.mp4").path
        try Data("this is not a video\n".utf8).write(to: URL(fileURLWithPath: text))
        let audioOnly = try makeClip("tone.m4a", ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050", "-t", "0.5", "-c:a", "aac"])
        let zeroFrames = try makeClip("empty.avi", ["-f", "lavfi", "-i", "color=s=32x24:r=12", "-frames:v", "0", "-c:v", "mpeg4"])
        let tooWide = try makeClipWithAudio("wide.mp4", size: "80x24")
        let tooSmall = try makeClip("tiny.avi", ["-f", "lavfi", "-i", "testsrc=size=2x2:rate=12", "-frames:v", "3", "-c:v", "rawvideo"])
        try await withServer { [self] client in
            try assertRefused(try await upload(client, path: text, name: "notes.mp4"), .unsupportedMediaType, containing: "notes.mp4: not a video")
            try assertRefused(try await upload(client, path: audioOnly, name: "tone.m4a"), .unprocessableContent, containing: "no video stream")
            try assertRefused(try await upload(client, path: zeroFrames, name: "empty.avi"), .unprocessableContent, containing: "no frames")
            try assertRefused(try await upload(client, path: tooWide, name: "wide.mp4"), .unprocessableContent, containing: "80x24")
            try assertRefused(try await upload(client, path: tooSmall, name: "tiny.avi"), .unprocessableContent, containing: "2x2")
            let empty = try await client.execute(uri: "/api/uploads?name=x.mp4", method: .post, headers: octetStream, body: ByteBuffer())
            try assertRefused(empty, .unprocessableContent, containing: "empty")
            XCTAssertEqual(contents(of: temporaryFolder), [], "refused uploads left files behind")
        }
    }

    func testUploadsOverTheLimitAreRefused() async throws {
        let clip = try makeClipWithAudio()
        var configuration = configuration()
        configuration.maxUploadBytes = 1024
        try await withServer(configuration) { [self] client in
            try assertRefused(try await upload(client, path: clip, name: "clip.mp4"), .contentTooLarge, containing: "larger than the limit of 1024 bytes")
            XCTAssertEqual(contents(of: temporaryFolder), [])
        }
    }

    func testBadJobRequests() async throws {
        let clip = try makeClipWithAudio()
        try await withServer { [self] client in
            struct Reply: Decodable { let id: String }
            let upload = try json(Reply.self, try await upload(client, path: clip, name: "clip.mp4"))
            let badSteps = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonContent, body: ByteBuffer(string: "{\"upload\": \"\(upload.id)\", \"inferenceSteps\": 0}"))
            try assertRefused(badSteps, .unprocessableContent, containing: "between 1 and 50")
            let notJSON = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonContent, body: ByteBuffer(string: "steps=4"))
            try assertRefused(notJSON, .badRequest, containing: "expected JSON")
            let unknown = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonContent, body: ByteBuffer(string: "{\"upload\": \"nope\"}"))
            try assertRefused(unknown, .notFound, containing: "upload nope not found")
            try assertRefused(try await client.execute(uri: "/api/jobs/nope", method: .get), .notFound, containing: "job nope not found")
            // An upload can only be used once.
            _ = try await startJob(client, upload: upload.id)
            let again = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonContent, body: ByteBuffer(string: "{\"upload\": \"\(upload.id)\"}"))
            try assertRefused(again, .notFound, containing: "not found")
        }
    }

    func testUploadNamesNeverBecomePaths() async throws {
        let clip = try makeClipWithAudio()
        try await withServer { [self] client in
            struct Reply: Decodable { let id: String; let name: String }
            let reply = try json(Reply.self, try await upload(client, path: clip, name: "../../../outside/..\\evil name.mp4"))
            XCTAssertEqual(reply.name, "evil name.mp4")
            XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("outside").path))
            let uploads = contents(of: temporaryFolder)
            XCTAssertEqual(uploads, ["upload-\(reply.id)"])
            XCTAssertEqual(contents(of: (temporaryFolder as NSString).appendingPathComponent(uploads[0])), ["source.mp4"])
            let job = try await startJob(client, upload: reply.id)
            let finalEvents = try await events(client, job: job.id)
            let final = try XCTUnwrap(finalEvents.last)
            XCTAssertEqual(final.state, .finished)
            XCTAssertEqual(contents(of: outputFolder), ["evil_name-\(job.id.prefix(8))_x4.mp4"])
            // Results are only reachable through their job; nothing else is served from disk.
            for path in ["/api/jobs/..%2F..%2Fetc%2Fpasswd/result", "/api/jobs/../../etc/passwd", "/outputs/evil_name_x4.mp4",
                         "/api/uploads/..%2Ftmp/preview"] {
                let response = try await client.execute(uri: path, method: .get)
                XCTAssertEqual(response.status, .notFound, path)
            }
        }
    }

    func testDisplayNamesAndStems() {
        XCTAssertEqual(UploadStore.displayName("C:\\Users\\me\\clip.mov"), "clip.mov")
        XCTAssertEqual(UploadStore.displayName("a/b/.."), "video")
        XCTAssertEqual(UploadStore.displayName("bad\u{0}\nname.mp4"), "badname.mp4")
        XCTAssertEqual(UploadStore.safeExtension("x.mp4;rm -rf"), "bin")
        XCTAssertEqual(UploadStore.safeExtension("clip.MKV"), "mkv")
        XCTAssertEqual(UploadStore.safeStem("été à la plage.mp4"), "t____la_plage")
        XCTAssertEqual(UploadStore.safeStem("....mp4"), "video")
    }

    func testByteRanges() {
        XCTAssertEqual(FileResponse.byteRange("bytes=0-99", size: 1000), 0...99)
        XCTAssertEqual(FileResponse.byteRange("bytes=900-", size: 1000), 900...999)
        XCTAssertEqual(FileResponse.byteRange("bytes=-10", size: 1000), 990...999)
        XCTAssertEqual(FileResponse.byteRange("bytes=0-5000", size: 1000), 0...999)
        XCTAssertNil(FileResponse.byteRange("bytes=1000-", size: 1000))
        XCTAssertNil(FileResponse.byteRange("bytes=0-1,5-6", size: 1000))
        XCTAssertNil(FileResponse.byteRange("items=0-1", size: 1000))
    }
}
