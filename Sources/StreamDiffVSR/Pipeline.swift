// StreamDiffVSR: the library a Swift user imports. `Pipeline` loads the components of a
// Stream-DiffVSR model once; `StreamSession` carries one stream's causal state (the previous float
// output and the previous bicubic frame) and turns one LR frame into one 4x frame per call.

import Checkpoints
import Foundation
import Media
import Models
import TensorEngine

public enum PipelineError: Error, CustomStringConvertible {
    case missingComponent(directory: String, component: String, expected: String)
    case invalidFrame(String)
    case initialLatents(path: String, reason: String)
    case frameTooSmall(width: Int, height: Int, minimum: Int)
    case invalidOption(String)

    public var description: String {
        switch self {
        case let .missingComponent(directory, component, expected):
            return "\(directory): model component '\(component)' not found (expected \(expected))"
        case let .invalidFrame(reason):
            return "invalid frame: \(reason)"
        case let .initialLatents(path, reason):
            return "\(path): \(reason)"
        case let .frameTooSmall(width, height, minimum):
            return "frame \(width)x\(height) is too small: each side must be at least \(minimum) pixels"
        case let .invalidOption(reason):
            return "invalid option: \(reason)"
        }
    }
}

/// The loaded networks of one model on one device, shared read-only by any number of sessions (Sendable:
/// every stored property is a constant after `init`, and the networks are never mutated by a forward pass;
/// the prompt cache behind `prompts` has its own lock).
public final class Pipeline: @unchecked Sendable {
    /// Where the weights live and every frame is computed.
    public let device: Device
    public let unet: UNet2DCondition
    public let controlNet: ControlNet
    public let autoencoder: TemporalAutoencoderTiny
    /// The text states per prompt (the text encoder itself is loaded only while it encodes).
    public let prompts: PromptEncoder
    public let flowNetwork: RAFT
    public let schedulerConfig: DDIMSchedulerConfig
    public let unetConfig: UNet2DConditionConfig

    /// Bytes of the parameters kept on the device (every network but the text encoder).
    public let parameterBytes: Int

    /// Loads every component from a diffusers-layout model folder and the RAFT weights file onto
    /// `device`, strictly (any missing, unexpected or mis-shaped key is an error naming it), and encodes
    /// `prompts` (the sessions' prompts; others are encoded when first used).
    public init(model: ModelRepository, flowWeights: URL, device: Device = .cpu, prompts: [String] = [""]) throws {
        self.device = device
        let unetConfig = try UNet2DConditionConfig.load(from: model.config(of: .unet))
        self.unetConfig = unetConfig
        unet = try Self.load(model.weights(of: .unet), device: device) { UNet2DCondition(config: unetConfig, weights: $0) }
        let controlNetConfig = try ControlNetConfig.load(from: model.config(of: .controlNet))
        controlNet = try Self.load(model.weights(of: .controlNet), device: device) { ControlNet(config: controlNetConfig, weights: $0) }
        let autoencoderConfig = try TemporalAutoencoderTinyConfig.load(from: model.config(of: .autoencoder))
        autoencoder = try Self.load(model.weights(of: .autoencoder), device: device) {
            TemporalAutoencoderTiny(config: autoencoderConfig, weights: $0)
        }
        self.prompts = try PromptEncoder(model: model, device: device, prompts: prompts)
        schedulerConfig = try DDIMSchedulerConfig.load(from: model.config(of: .scheduler))
        flowNetwork = try Self.load(flowWeights, device: device, ignoring: RAFT.isUnusedKey) { RAFT(weights: $0) }
        let networks: [any Module] = [unet, controlNet, autoencoder, flowNetwork]
        parameterBytes = networks.reduce(0) { $0 + $1.parameterBytes }
    }

    private static func load<Model>(_ file: URL, device: Device, ignoring: (String) -> Bool = { _ in false },
                                    _ build: (WeightLoader) -> Model) throws -> Model {
        let loader = WeightLoader(try StateDict(contentsOf: file.path), device: device)
        let model = build(loader)
        try loader.finish(ignoring: ignoring)
        return model
    }

    /// The latent channels the UNet denoises (its input also carries the 3 LR channels).
    public var latentChannels: Int { unetConfig.outChannels }

    /// The text embedding of `prompt` ([1, 77, D]), computed once per pipeline and prompt.
    public func promptEmbedding(_ prompt: String) throws -> Tensor {
        try prompts.embedding(for: prompt)
    }

    /// A new stream. Sessions are independent: interleaving them gives the same frames as running each alone.
    public func makeSession(_ options: SessionOptions = SessionOptions()) throws -> StreamSession {
        try StreamSession(pipeline: self, options: options)
    }
}
