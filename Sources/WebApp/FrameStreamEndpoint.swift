import Foundation
import HummingbirdWebSocket
import Media
import NIOCore
import NIOPosix
import VideoJobs

/// The live ("online") API: one WebSocket connection is one video stream with its own temporal state.
/// The client sends LR frames and gets each HR frame back as soon as it is computed, preceded by a JSON
/// `StreamFrameReply` with its latency. A bad frame gets `{"error": "..."}` and closes the connection.
struct FrameStreamEndpoint: Sendable {
    let model: SharedModel
    let maxInputSide: Int
    let defaultInferenceSteps: Int
    /// A frame message may not exceed a raw RGB frame of the largest allowed size (plus its header).
    var maxMessageBytes: Int { 12 + maxInputSide * maxInputSide * 3 }

    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, steps requested: Int?) async throws {
        let steps = requested ?? defaultInferenceSteps
        guard ServerConfiguration.inferenceStepRange.contains(steps) else {
            try await fail(WebAppError.invalidSteps(found: steps, range: ServerConfiguration.inferenceStepRange), outbound)
            return
        }
        let policy = FrameSizePolicy()
        var upscaler: ConnectionSession?
        var inputSize: (width: Int, height: Int)?
        var index = 0
        for try await message in inbound.messages(maxSize: maxMessageBytes) {
            let received = DispatchTime.now().uptimeNanoseconds
            guard case .binary(let buffer) = message else {
                try await fail(WebAppError.streamFrame("expected a binary message (PNG or RGB8), found text"), outbound)
                return
            }
            do {
                let (decoded, format) = try StreamFrameCodec.decode(Array(buffer.readableBytesView))
                let minimum = ServerConfiguration.minInputSide
                guard min(decoded.width, decoded.height) >= minimum, max(decoded.width, decoded.height) <= maxInputSide else {
                    throw WebAppError.unsupportedSize(name: "frame \(index + 1)", width: decoded.width, height: decoded.height,
                                                      minimum: minimum, maximum: maxInputSide)
                }
                if let size = inputSize, size != (decoded.width, decoded.height) {
                    throw WebAppError.streamFrame("frame \(index + 1) is \(decoded.width)x\(decoded.height), the stream started at \(size.width)x\(size.height) (one size per connection)")
                }
                inputSize = (decoded.width, decoded.height)
                let model = self.model
                if upscaler == nil {
                    upscaler = try await NIOThreadPool.singleton.runIfActive {
                        ConnectionSession(upscaler: try model.makeUpscaler(inferenceSteps: steps, sequence: "stream"))
                    }
                }
                let sessionUpscaler = upscaler!
                let (output, waitNanoseconds, upscaleNanoseconds) = try await NIOThreadPool.singleton.runIfActive {
                    // Same rule as the video path: sides are cut to multiples of 4 (Lanczos) first.
                    let target = policy.targetSize(width: decoded.width, height: decoded.height)
                    let frame = target == (decoded.width, decoded.height) ? decoded
                        : LanczosResize.resize(decoded, width: target.width, height: target.height)
                    let queued = DispatchTime.now().uptimeNanoseconds
                    var started: UInt64 = 0
                    let output = try model.upscale(frame, with: TimedUpscaler(inner: sessionUpscaler.upscaler) { started = $0 })
                    let finished = DispatchTime.now().uptimeNanoseconds
                    return (output, started - queued, finished - started)
                }
                let encoded = try StreamFrameCodec.encode(output, as: format)
                index += 1
                let ready = DispatchTime.now().uptimeNanoseconds
                let reply = StreamFrameReply(frame: index, width: output.width, height: output.height, format: format,
                                             latencyMs: Double(ready - received) / 1e6, waitMs: Double(waitNanoseconds) / 1e6,
                                             upscaleMs: Double(upscaleNanoseconds) / 1e6)
                try await outbound.write(.text(String(decoding: try JSONEncoder().encode(reply), as: UTF8.self)))
                try await outbound.writeBinaryMessage(ByteBuffer(bytes: encoded))
            } catch let error as WebAppError {
                try await fail(error, outbound)
                return
            } catch let error as VideoJobError {
                try await fail(WebAppError.streamFrame("\(error)"), outbound)
                return
            }
        }
    }

    private func fail(_ error: WebAppError, _ outbound: WebSocketOutboundWriter) async throws {
        let text = String(decoding: try JSONEncoder().encode(["error": error.description]), as: UTF8.self)
        try await outbound.write(.text(text))
        try await outbound.close(.unacceptableData, reason: nil)
    }
}

/// One connection's stream session as it moves to the thread pool for each frame. It is never used
/// concurrently: a connection awaits each frame's upscale before it reads the next message, so the
/// session runs on one thread at a time, in frame order, though not always the same thread.
private struct ConnectionSession: @unchecked Sendable {
    let upscaler: FrameUpscaling
}

/// Notes the moment the model lock was taken, to split a frame's latency into waiting and computing.
private final class TimedUpscaler: FrameUpscaling {
    let inner: FrameUpscaling
    let onStart: (UInt64) -> Void

    init(inner: FrameUpscaling, onStart: @escaping (UInt64) -> Void) {
        self.inner = inner
        self.onStart = onStart
    }

    func upscale(_ frame: RGBImage) throws -> RGBImage {
        onStart(DispatchTime.now().uptimeNanoseconds)
        return try inner.upscale(frame)
    }
}
