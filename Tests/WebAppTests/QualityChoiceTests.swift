import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import XCTest
@testable import WebApp

/// The page's quality choice reaches the encoder: a smaller-file job writes a smaller file than a
/// high-quality one of the same upload, and an unknown quality is refused in one line.
final class QualityChoiceTests: WebAppTestCase {
    func testQualityChoiceSetsTheEncoderAndUnknownOnesAreRefused() async throws {
        let clip = try makeClipWithAudio(size: "48x32")
        try await withServer { [self] client in
            var sizes: [OutputQuality: Int] = [:]
            for quality in [OutputQuality.high, .small] {
                struct Reply: Decodable { let id: String }
                let upload = try json(Reply.self, try await upload(client, path: clip, name: "clip.mp4"))
                let response = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonContent,
                                                        body: ByteBuffer(string: "{\"upload\": \"\(upload.id)\", \"quality\": \"\(quality.rawValue)\"}"))
                XCTAssertEqual(response.status, .accepted, String(buffer: response.body))
                let job = try json(JobStatus.self, response)
                XCTAssertEqual(job.quality, quality)
                let history = try await events(client, job: job.id)
                let final = try XCTUnwrap(history.last)
                XCTAssertEqual(final.state, .finished, final.message ?? "")
                let result = try await client.execute(uri: try XCTUnwrap(final.resultURL), method: .get)
                sizes[quality] = result.body.readableBytes
            }
            XCTAssertLessThan(try XCTUnwrap(sizes[.small]), try XCTUnwrap(sizes[.high]))

            struct Reply: Decodable { let id: String }
            let upload = try json(Reply.self, try await upload(client, path: clip, name: "clip.mp4"))
            let refused = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonContent,
                                                   body: ByteBuffer(string: "{\"upload\": \"\(upload.id)\", \"quality\": \"ultra\"}"))
            XCTAssertEqual(refused.status, .badRequest)
            XCTAssertTrue(String(buffer: refused.body).contains("quality must be one of standard, high, small"), String(buffer: refused.body))
        }
    }
}
