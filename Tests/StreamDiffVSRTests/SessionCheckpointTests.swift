// Stopping a stream and continuing it in a new session: the frames are the same, bit for bit, and
// state from another model or other options is refused in one line.

import Foundation
import Media
@testable import StreamDiffVSR
import TensorEngine
import XCTest

final class SessionCheckpointTests: XCTestCase {
    private func frame(_ index: Int, width: Int = 20, height: Int = 16) -> RGBImage {
        RGBImage(width: width, height: height, pixels: (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: ($0 * 7 + index * 29) % 251) })
    }

    func testAResumedSessionContinuesBitForBitAtBothFlowResolutions() throws {
        let pipeline = try TinyPipeline.load()
        var outputs: [FlowResolution: [RGBImage]] = [:]
        for resolution in FlowResolution.allCases {
            var options = SessionOptions()
            options.numInferenceSteps = 2
            options.seed = 3
            // One RAFT refinement keeps the test fast; the state carried over is the same.
            options.flowIterations = 1
            options.flowResolution = resolution
            let uninterrupted = try pipeline.makeSession(options)
            let expected = try (0..<3).map { try uninterrupted.upscale(frame($0)) }
            outputs[resolution] = expected

            let first = try pipeline.makeSession(options)
            XCTAssertEqual(try first.upscale(frame(0)), expected[0])
            let bytes = try first.exportState().serialized(modelIdentity: "tiny", options: options)
            let state = try SessionState(serialized: bytes, modelIdentity: "tiny", options: options)
            XCTAssertEqual(state.frameIndex, 1)
            let resumed = try StreamSession(pipeline: pipeline, options: options, resumingFrom: state)
            XCTAssertEqual(try resumed.upscale(frame(1)), expected[1], "\(resolution) frame 1")
            XCTAssertEqual(try resumed.upscale(frame(2)), expected[2], "\(resolution) frame 2")

            // A state saved before the first frame starts the stream from scratch.
            let fresh = try pipeline.makeSession(options).exportState().serialized(modelIdentity: "tiny", options: options)
            let restarted = try StreamSession(pipeline: pipeline, options: options,
                                              resumingFrom: try SessionState(serialized: fresh, modelIdentity: "tiny", options: options))
            XCTAssertEqual(try restarted.upscale(frame(0)), expected[0])
        }
        XCTAssertEqual(outputs[.hr]?[0], outputs[.lr]?[0], "the first frame has no flow")
        XCTAssertNotEqual(outputs[.hr]?[1], outputs[.lr]?[1], "LR flow is cheaper, not identical")
    }

    /// The torch generators' positions travel with the state: MT19937's words (CPU, also mid-block of
    /// 624) and Philox's offset (CUDA), so a resumed stream draws the original's next latents.
    func testAResumedSessionContinuesTheTorchNoiseStream() throws {
        let pipeline = try TinyPipeline.load()
        for source in [NoiseSource.torchCPU(.avx2), .torchCUDA(.rtx4090)] {
            var options = SessionOptions()
            options.numInferenceSteps = 1
            options.flowIterations = 1
            options.noise = source
            options.seed = 42
            let uninterrupted = try pipeline.makeSession(options)
            let expected = try (0..<3).map { try uninterrupted.upscale(frame($0)) }
            let first = try pipeline.makeSession(options)
            _ = try first.upscale(frame(0))
            _ = try first.upscale(frame(1))
            let bytes = try first.exportState().serialized(modelIdentity: "tiny", options: options)
            let resumed = try StreamSession(pipeline: pipeline, options: options,
                                            resumingFrom: try SessionState(serialized: bytes, modelIdentity: "tiny", options: options))
            XCTAssertEqual(try resumed.upscale(frame(2)), expected[2], "\(source)")

            var native = options
            native.noise = .native
            XCTAssertThrowsError(try SessionState(serialized: bytes, modelIdentity: "tiny", options: native), "\(source) state with native noise")
        }
    }

    func testStateOfAnotherModelOrOtherOptionsIsRefused() throws {
        let pipeline = try TinyPipeline.load()
        var options = SessionOptions()
        options.numInferenceSteps = 2
        let session = try pipeline.makeSession(options)
        _ = try session.upscale(frame(0))
        let bytes = try session.exportState().serialized(modelIdentity: "tiny", options: options)

        XCTAssertThrowsError(try SessionState(serialized: bytes, modelIdentity: "other", options: options)) {
            XCTAssertEqual($0 as? SessionCheckpointError, .otherModel)
        }
        var changed = options
        changed.numInferenceSteps = 4
        XCTAssertThrowsError(try SessionState(serialized: bytes, modelIdentity: "tiny", options: changed)) {
            XCTAssertEqual($0 as? SessionCheckpointError, .otherOptions(option: "--num-inference-steps", saved: "2", current: "4"))
            XCTAssertEqual("\($0)", "it was made with --num-inference-steps 2, this run uses 4")
        }
        changed = options
        changed.flowResolution = .lr
        XCTAssertThrowsError(try SessionState(serialized: bytes, modelIdentity: "tiny", options: changed)) {
            XCTAssertEqual($0 as? SessionCheckpointError, .otherOptions(option: "--flow-resolution", saved: "hr", current: "lr"))
        }
        changed = options
        changed.initialLatents = Tensor(zeros: [1, pipeline.latentChannels, 4, 5])
        XCTAssertThrowsError(try SessionState(serialized: bytes, modelIdentity: "tiny", options: changed))

        // Damaged or truncated bytes, and tensors that do not fit the frame size, are named as such.
        for damaged in [Array(bytes.dropLast(4)), Array(bytes.prefix(20)), bytes.map { $0 } + [0]] {
            XCTAssertThrowsError(try SessionState(serialized: damaged, modelIdentity: "tiny", options: options)) {
                guard case .corrupt? = $0 as? SessionCheckpointError else { return XCTFail("\($0)") }
            }
        }
        let state = try SessionState(serialized: bytes, modelIdentity: "tiny", options: options)
        XCTAssertThrowsError(try StreamSession(pipeline: pipeline, options: options.withFlowResolution(.lr), resumingFrom: state)) {
            guard case .corrupt? = $0 as? SessionCheckpointError else { return XCTFail("\($0)") }
        }
    }

    func testTheModelIdentityFollowsTheWeightFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("identity-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: TinyPipeline.fixtures.appendingPathComponent("tiny_model"), to: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let flow = TinyPipeline.fixtures.appendingPathComponent("raft_large_parameters.txt")
        let original = try ModelIdentity.of(ModelRepository(root: folder), flowWeights: flow)
        XCTAssertEqual(try ModelIdentity.of(ModelRepository(root: folder), flowWeights: flow), original)
        let weights = folder.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count - 1] ^= 0xFF
        try bytes.write(to: weights)
        XCTAssertNotEqual(try ModelIdentity.of(ModelRepository(root: folder), flowWeights: flow), original)
    }
}

private extension SessionOptions {
    func withFlowResolution(_ resolution: FlowResolution) -> SessionOptions {
        var options = self
        options.flowResolution = resolution
        return options
    }
}
