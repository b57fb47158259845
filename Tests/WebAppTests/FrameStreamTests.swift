import Foundation
import HTTPTypes
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import Media
import NIOCore
import XCTest
@testable import WebApp

/// The live streaming API: LR frames in over a WebSocket, each HR frame back with its latency.
final class FrameStreamTests: WebAppTestCase {
    struct Received: Sendable {
        var replies: [StreamFrameReply] = []
        var frames: [[UInt8]] = []
        var errors: [String] = []
    }

    final class Box<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Value
        init(_ value: Value) { stored = value }
        var value: Value { lock.withLock { stored } }
        func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
    }

    /// Sends every message, reading the reply pair (or an error) after each.
    func stream(_ messages: [[UInt8]], port: Int, query: String = "") async throws -> Received {
        let received = Box(Received())
        let url = "ws://127.0.0.1:\(port)/api/stream\(query)"
        try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 22), logger: Logger(label: "stream-test")) { inbound, outbound, _ in
            var iterator = inbound.messages(maxSize: 1 << 24).makeAsyncIterator()
            for message in messages {
                // The server may already have refused the stream (bad steps) and closed; its reply is still read.
                try? await outbound.write(.binary(ByteBuffer(bytes: message)))
                guard case .text(let text) = try await iterator.next() else { return }
                if let reply = try? JSONDecoder().decode(StreamFrameReply.self, from: Data(text.utf8)) {
                    guard case .binary(let frame) = try await iterator.next() else { return }
                    received.update {
                        $0.replies.append(reply)
                        $0.frames.append(Array(buffer: frame))
                    }
                } else {
                    received.update { $0.errors.append(text) }
                    return
                }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        return received.value
    }

    func testFramesGoOutAsSoonAsTheyAreComputed() async throws {
        let provider = NearestProvider()
        let frames = (0..<3).map { index in
            RGBImage(width: 12, height: 8, pixels: (0..<(12 * 8 * 3)).map { UInt8(truncatingIfNeeded: $0 * 7 + index * 31) })
        }
        try await withServer(provider: provider) { [self] client in
            let port = try XCTUnwrap(client.port)
            let messages = [try StreamFrameCodec.encode(frames[0], as: .png), try StreamFrameCodec.encode(frames[1], as: .rgb8),
                            try StreamFrameCodec.encode(frames[2], as: .png)]
            let received = try await stream(messages, port: port, query: "?steps=2")
            XCTAssertEqual(received.errors, [])
            XCTAssertEqual(received.replies.map(\.frame), [1, 2, 3])
            XCTAssertEqual(received.replies.map(\.format), [.png, .rgb8, .png])
            for (index, reply) in received.replies.enumerated() {
                XCTAssertEqual(reply.width, 48)
                XCTAssertEqual(reply.height, 32)
                XCTAssertGreaterThan(reply.latencyMs, 0)
                XCTAssertGreaterThanOrEqual(reply.latencyMs, reply.upscaleMs + reply.waitMs)
                let (decoded, format) = try StreamFrameCodec.decode(received.frames[index], maxSide: 4096)
                XCTAssertEqual(format, reply.format)
                XCTAssertEqual(decoded, NearestUpscaler.nearest(frames[index]))
            }
            // One session (one upscaler with its temporal state) per connection, at the requested steps.
            XCTAssertEqual(provider.stepsRequested, [2])
        }
    }

    func testBadFramesGetAnErrorAndCloseTheStream() async throws {
        let frame = RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 90, count: 8 * 8 * 3))
        let other = RGBImage(width: 12, height: 8, pixels: [UInt8](repeating: 90, count: 12 * 8 * 3))
        try await withServer { [self] client in
            let port = try XCTUnwrap(client.port)
            let garbage = try await stream([Array("hello".utf8)], port: port)
            XCTAssertEqual(garbage.errors.count, 1)
            XCTAssertTrue(garbage.errors[0].contains("expected a PNG file or an RGB8 header"), garbage.errors[0])

            var truncated = try StreamFrameCodec.encode(frame, as: .rgb8)
            truncated.removeLast(5)
            let short = try await stream([truncated], port: port)
            XCTAssertTrue(short.errors.first?.contains("RGB8 8x8 needs 204 bytes with its header, found 199") == true, "\(short.errors)")

            let sizeChange = try await stream([try StreamFrameCodec.encode(frame, as: .png), try StreamFrameCodec.encode(other, as: .png)], port: port)
            XCTAssertEqual(sizeChange.replies.count, 1)
            XCTAssertTrue(sizeChange.errors.first?.contains("frame 2 is 12x8, the stream started at 8x8") == true, "\(sizeChange.errors)")

            let huge = RGBImage(width: 65, height: 8, pixels: [UInt8](repeating: 0, count: 65 * 8 * 3))
            let tooLarge = try await stream([try StreamFrameCodec.encode(huge, as: .rgb8)], port: port)
            XCTAssertTrue(tooLarge.errors.first?.contains("65x8") == true, "\(tooLarge.errors)")

            let badSteps = try await stream([try StreamFrameCodec.encode(frame, as: .png)], port: port, query: "?steps=99")
            XCTAssertTrue(badSteps.errors.first?.contains("between 1 and 50") == true, "\(badSteps.errors)")

            // Issue 15: twelve bytes declaring a 4294967295 x 4294967295 frame killed the server, so did a
            // 69-byte PNG declaring 1,000,000 x 1,000,000. Now each is one error line and the server goes on.
            let overflowing = try await stream([StreamFrameCodecTests.raw(width: .max, height: .max)], port: port)
            XCTAssertTrue(overflowing.errors.first?.contains("4294967295x4294967295") == true, "\(overflowing.errors)")
            let hugePNG = try await stream([StreamFrameCodecTests.hugePNG()], port: port)
            XCTAssertTrue(hugePNG.errors.first?.contains("1000000x1000000") == true, "\(hugePNG.errors)")
            let info = try await client.execute(uri: "/api/info", method: .get)
            XCTAssertEqual(info.status, .ok)
        }
    }
}
