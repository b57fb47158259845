// Parity of the temporal decoder with a PyTorch model checked against the original Stream-DiffVSR
// classes and diffusers' AutoencoderTiny (tools/fixtures/gen_vae_clip.py). The fixtures use odd
// latent sizes (9x11, 5x7), so the TPM pooling meets maps that are not multiples of 4.

import Checkpoints
import Foundation
import Models
import TensorEngine
import TestSupport
import XCTest

final class TemporalAutoencoderTinyTests: XCTestCase {
    struct Case {
        let fixture: Fixture
        let model: TemporalAutoencoderTiny
    }

    func loadCase(_ name: String) throws -> Case {
        let fixture = try Fixture(name, in: .module)
        let configURL = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        let config = try TemporalAutoencoderTinyConfig.load(from: configURL)
        let loader = WeightLoader(fixture.stateDict(prefix: "vae."))
        let model = TemporalAutoencoderTiny(config: config, weights: loader)
        try loader.finish()
        return Case(fixture: fixture, model: model)
    }

    func features(_ fixture: Fixture, stream: Int, count: Int) throws -> [Tensor] {
        try (0..<count).map { try fixture[String(format: "features_%d_%02d", stream, $0)] }
    }

    func checkWholeModel(_ name: String, levels: Int, featureCount: Int) throws {
        let loaded = try loadCase(name)
        let (fixture, model) = (loaded.fixture, loaded.model)
        XCTAssertEqual(model.scaleFactor, 1 << (levels - 1))
        XCTAssertEqual(model.decoderBlockCount, featureCount)

        assertClose(model.encode(try fixture["image"]), try fixture["encoded"], tolerance: 1e-4, "\(name) encode")
        let latents = try fixture["latents"]
        assertClose(model.decode(latents), try fixture["decoded"], tolerance: 1e-4, "\(name) decode without temporal features")

        for stream in 0..<2 {
            let computed = model.temporalFeatures(try fixture["previous_\(stream)"])
            let expected = try features(fixture, stream: stream, count: featureCount)
            XCTAssertEqual(computed.count, expected.count, "\(name) feature count")
            for (k, (actual, reference)) in zip(computed, expected).enumerated() {
                assertClose(actual, reference, tolerance: 1e-4, "\(name) stream \(stream) encoder feature \(k)")
            }
            // The decode uses the reference features so that this checks the decoder alone.
            assertClose(model.decode(latents, temporalFeatures: expected), try fixture["decoded_temporal_\(stream)"],
                        tolerance: 1e-4, "\(name) stream \(stream) decode with temporal features")
        }
    }

    func testThreeLevelsMatchesReference() throws {
        try checkWholeModel("taesd_temporal_3levels", levels: 3, featureCount: 5)
    }

    func testFourLevelsMatchesReference() throws {
        try checkWholeModel("taesd_temporal_4levels", levels: 4, featureCount: 5)
    }

    /// The model holds no stream state: two streams decoded in alternation give what each gives alone.
    func testStreamsDecodedInAlternationAreIndependent() throws {
        let c = try loadCase("taesd_temporal_3levels")
        let latents = try c.fixture["latents"]
        let streams = try (0..<2).map { c.model.temporalFeatures(try c.fixture["previous_\($0)"]) }
        let alone = streams.map { c.model.decode(latents, temporalFeatures: $0) }
        for round in 0..<2 {
            for stream in [1, 0] {
                let again = c.model.decode(latents, temporalFeatures: streams[stream])
                XCTAssertEqual(try again.scalars, try alone[stream].scalars, "round \(round) stream \(stream)")
                assertClose(again, try c.fixture["decoded_temporal_\(stream)"], tolerance: 1e-4, "stream \(stream)")
            }
            assertClose(c.model.decode(latents), try c.fixture["decoded"], tolerance: 1e-4, "no-temporal decode between streams")
        }
    }

    /// The reference fails when a TPM block's map is smaller than its 4x4 pooling window; such
    /// blocks skip the fusion here while the larger maps still fuse.
    func testMapsSmallerThanThePoolingWindowDecode() throws {
        let c = try loadCase("taesd_temporal_3levels")
        let image = try c.fixture["previous_0"].slice(axis: 2, 0..<4).slice(axis: 3, 0..<8)
        let latents = try c.fixture["latents"].slice(axis: 2, 0..<1).slice(axis: 3, 0..<2)
        let features = c.model.temporalFeatures(image)
        XCTAssertEqual(features.map { Array($0.shape[2...]) }, [[4, 8], [2, 4], [2, 4], [1, 2], [1, 2]])
        let decoded = c.model.decode(latents, temporalFeatures: features)
        XCTAssertEqual(decoded.shape, [1, 3, 4, 8])
        XCTAssert(try decoded.scalars.allSatisfy(\.isFinite))
        XCTAssertGreaterThan(try maxAbsoluteDifference(decoded, c.model.decode(latents)), 1e-3, "the full-size blocks still fuse")
    }

    func testWeightsOfAnotherConfigAreRejectedByName() throws {
        let fixture = try Fixture("taesd_temporal_4levels", in: .module)
        var config = TemporalAutoencoderTinyConfig()
        config.encoderBlockOutChannels = [8, 8, 8]
        config.decoderBlockOutChannels = [8, 8, 8]
        config.numEncoderBlocks = [1, 2, 2]
        config.numDecoderBlocks = [2, 2, 1]
        let loader = WeightLoader(fixture.stateDict(prefix: "vae."))
        _ = TemporalAutoencoderTiny(config: config, weights: loader)
        XCTAssertThrowsError(try loader.finish()) { error in
            let text = String(describing: error)
            XCTAssert(text.contains("encoder.layers.0.weight expected [8, 3, 3, 3] found [6, 3, 3, 3]"), text)
            XCTAssert(text.contains("unexpected"), text)
        }
    }

    func testConfigErrorsNameTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("taesd-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("config.json")
        try Data(#"{"encoder_block_out_channels": [8, 8], "num_encoder_blocks": [1, 2, 2]}"#.utf8).write(to: url)
        XCTAssertThrowsError(try TemporalAutoencoderTinyConfig.load(from: url)) { error in
            let text = String(describing: error)
            XCTAssert(text.hasPrefix(url.path) && text.contains("num_encoder_blocks"), text)
        }
        try Data(#"{"scaling_factor": "large"}"#.utf8).write(to: url)
        XCTAssertThrowsError(try TemporalAutoencoderTinyConfig.load(from: url)) { error in
            XCTAssert(String(describing: error).contains("scaling_factor"), String(describing: error))
        }
    }
}
