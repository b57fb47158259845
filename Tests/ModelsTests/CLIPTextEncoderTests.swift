// Parity of the CLIP text encoder with transformers' CLIPTextModel on tiny random configs (exact-erf
// GELU and quick_gelu), token ids ending in "!" padding (tools/fixtures/gen_vae_clip.py).

import Checkpoints
import Foundation
import Models
import TensorEngine
import TestSupport
import XCTest

final class CLIPTextEncoderTests: XCTestCase {
    func check(_ name: String, activation: CLIPActivation) throws {
        let fixture = try Fixture(name, in: .module)
        let configURL = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        let config = try CLIPTextConfig.load(from: configURL)
        XCTAssertEqual(config.hiddenAct, activation)
        let weights = fixture.stateDict.entries.filter { $0.key.hasPrefix("text_model.") }
        let loader = WeightLoader(StateDict(source: fixture.file.path, entries: weights))
        let encoder = CLIPTextEncoder(config: config, weights: loader)
        try loader.finish()

        let ids = try fixture["input_ids"].scalars.map { Int($0) }
        let output = encoder(ids)
        XCTAssertEqual(output.shape, [1, ids.count, config.hiddenSize])
        assertClose(output, try fixture["last_hidden_state"], tolerance: 1e-4, "\(name) last_hidden_state")

        // Causal attention: a prefix of the sequence has the same hidden states as the full sequence.
        let prefix = encoder(Array(ids.prefix(5)))
        assertClose(prefix, try fixture["last_hidden_state"].slice(axis: 1, 0..<5), tolerance: 1e-4, "\(name) prefix")
    }

    func testExactGELUMatchesTransformers() throws {
        try check("clip_text_gelu", activation: .gelu)
    }

    func testQuickGELUMatchesTransformers() throws {
        try check("clip_text_quick_gelu", activation: .quickGELU)
    }

    func testMissingLayerIsReportedByName() throws {
        let fixture = try Fixture("clip_text_gelu", in: .module)
        var config = CLIPTextConfig()
        config.vocabSize = 1000
        config.hiddenSize = 32
        config.intermediateSize = 37
        config.numAttentionHeads = 4
        config.maxPositionEmbeddings = 22
        config.numHiddenLayers = 4
        let weights = fixture.stateDict.entries.filter { $0.key.hasPrefix("text_model.") }
        let loader = WeightLoader(StateDict(source: "clip.safetensors", entries: weights))
        _ = CLIPTextEncoder(config: config, weights: loader)
        XCTAssertThrowsError(try loader.finish()) { error in
            XCTAssert(String(describing: error).contains("text_model.encoder.layers.3.self_attn.q_proj.weight"), String(describing: error))
        }
    }

    func testNestedCLIPConfigAndUnknownActivation() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("clip-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("config.json")
        try Data(#"{"model_type": "clip", "text_config": {"hidden_size": 64, "num_attention_heads": 4, "hidden_act": "gelu"}}"#.utf8).write(to: url)
        let nested = try CLIPTextConfig.load(from: url)
        XCTAssertEqual(nested.hiddenSize, 64)
        XCTAssertEqual(nested.hiddenAct, .gelu)
        XCTAssertEqual(nested.maxPositionEmbeddings, 77)

        try Data(#"{"hidden_act": "mish"}"#.utf8).write(to: url)
        XCTAssertThrowsError(try CLIPTextConfig.load(from: url)) { error in
            let text = String(describing: error)
            XCTAssert(text.hasPrefix(url.path) && text.contains("hidden_act"), text)
        }
    }
}
