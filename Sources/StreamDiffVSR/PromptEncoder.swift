import Checkpoints
import Foundation
import Models
import TensorEngine

/// The text states the UNet and ControlNet attend to, one per prompt (the reference always uses the
/// empty prompt). The CLIP text encoder is a third of the release's weights (1.4 GB in fp32) and is
/// needed once per prompt, so it is loaded to encode the prompts given at start-up and released; a
/// prompt met later loads it again for as long as it takes to encode that prompt.
public final class PromptEncoder: @unchecked Sendable {
    private let model: ModelRepository
    private let device: Device
    private let tokenizer: CLIPTokenizer
    private let lock = NSLock()
    private var embeddings: [String: Tensor] = [:]

    init(model: ModelRepository, device: Device, prompts: [String]) throws {
        self.model = model
        self.device = device
        tokenizer = try CLIPTokenizer(directory: model.directory(of: .tokenizer))
        // Loaded (strictly) even without prompts, so a broken text encoder fails at start-up.
        let encoder = try loadEncoder()
        for prompt in Set(prompts) { embeddings[prompt] = encoder(tokenizer.encode(prompt)) }
    }

    /// The text states of `prompt`: [1, 77, hidden].
    public func embedding(for prompt: String) throws -> Tensor {
        lock.lock()
        defer { lock.unlock() }
        if let cached = embeddings[prompt] { return cached }
        let value = try loadEncoder()(tokenizer.encode(prompt))
        embeddings[prompt] = value
        return value
    }

    private func loadEncoder() throws -> CLIPTextEncoder {
        let config = try CLIPTextConfig.load(from: model.config(of: .textEncoder))
        let loader = WeightLoader(try StateDict(contentsOf: model.weights(of: .textEncoder).path), device: device)
        let encoder = CLIPTextEncoder(config: config, weights: loader)
        try loader.finish(ignoring: CLIPTextEncoder.isIgnorableKey)
        return encoder
    }
}
