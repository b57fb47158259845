import Foundation
import HummingbirdWebSocket
import Media
import NIOCore
import NIOPosix
import NIOWebSocket
import VideoJobs

/// The live ("online") API: one WebSocket connection is one video stream with its own temporal state.
/// The client sends LR frames and gets each HR frame back as soon as it is computed, preceded by a JSON
/// `StreamFrameReply` with its latency. A bad frame gets `{"error": "..."}` and closes the connection.
struct FrameStreamEndpoint: Sendable {
    let model: SharedModel
    let maxInputSide: Int
    let defaultInferenceSteps: Int
    let maxFrames: Int
    let slots: StreamSlots
    /// A frame message may not exceed a raw RGB frame of the largest allowed size (plus its header).
    var maxMessageBytes: Int {
        let (pixels, overflow) = maxInputSide.multipliedReportingOverflow(by: maxInputSide)
        return overflow || pixels > (Int.max - 12) / 3 ? Int.max : 12 + pixels * 3
    }

    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, steps requested: Int?) async throws {
        guard slots.acquire() else {
            try await fail(WebAppError.busy("\(slots.limit) streams are already open (STREAM_DIFFVSR_MAX_STREAMS)"), outbound, code: .goingAway)
            return
        }
        defer { slots.release() }
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
                guard index < maxFrames else {
                    throw WebAppError.streamFrame("a stream may carry at most \(maxFrames) frames (STREAM_DIFFVSR_MAX_FRAMES); open a new one")
                }
                let (decoded, format) = try StreamFrameCodec.decode(Array(buffer.readableBytesView), maxSide: maxInputSide)
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

    private func fail(_ error: WebAppError, _ outbound: WebSocketOutboundWriter, code: WebSocketErrorCode = .unacceptableData) async throws {
        let text = String(decoding: try JSONEncoder().encode(["error": error.description]), as: UTF8.self)
        try await outbound.write(.text(text))
        try await outbound.close(code, reason: nil)
    }
}

/// One connection's stream session as it moves to the thread pool for each frame. It is never used
/// concurrently: a connection awaits each frame's upscale before it reads the next message, so the
/// session runs on one thread at a time, in frame order, though not always the same thread.
private struct ConnectionSession: @unchecked Sendable {
    let upscaler: FrameUpscaling
}

/// Counts open streams against `ServerLimits.maxStreams`.
final class StreamSlots: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var open = 0

    init(limit: Int) { self.limit = limit }

    func acquire() -> Bool {
        lock.withLock {
            guard open < limit else { return false }
            open += 1
            return true
        }
    }

    func release() { lock.withLock { open -= 1 } }

    var count: Int { lock.withLock { open } }
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
