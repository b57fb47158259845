import Checkpoints
import Foundation
import Hub
import Media
import StreamDiffVSR
import TensorEngine
import VideoJobs

/// Everything the CLI and the server need to build the model stack, from parsed options.
struct PipelineSettings {
    var modelReference: String
    var flowWeights: String
    var numInferenceSteps: Int = 4
    var prompt: String = ""
    var seed: UInt64 = 0
    var noise: NoiseSource = .native
    var initialLatentsPath: String?
    var device: DeviceChoice = .automatic
    /// The device's activation storage type (`--precision`): float32, or float16 on a GPU that stores it
    /// (float32 arithmetic inside every kernel).
    var activationType: ElementType = .float32
    /// CPU engine threads (default: all cores).
    var threads: Int?
    var flowIterations: Int = 12
    var flowResolution: FlowResolution = .hr
    var tiling: Tiling = .automatic(maxMemoryBytes: nil)
    var tileOverlap = 16
    var tileBlending: TileBlending = .latent
    /// Per-component folders replacing the model's own (the original's `--unet_pretrained_weight` etc.).
    var componentOverrides: [ModelRepository.Component: String] = [:]
}

enum PipelineSetupError: Error, CustomStringConvertible {
    case flowWeightsNotFound(String)

    var description: String {
        switch self {
        case .flowWeightsNotFound(let path):
            return "\(path): flow weights not found (expected a RAFT-large .pth file or an http(s) URL)"
        }
    }
}

/// Loads the pipeline once (resolving a repo id through the Hugging Face cache and the RAFT URL
/// through the torch hub cache) and opens one stream per sequence, resumable from a checkpoint.
struct PipelineUpscalerFactory: UpscalerFactory {
    let pipeline: Pipeline
    let options: SessionOptions
    /// One torch generator for the whole run: sequences continue it in order, as in the original.
    private let torchNoise: TorchNoiseStream?
    /// Tags saved session state, so that a checkpoint is never resumed with other weights.
    let modelIdentity: String

    init(settings: PipelineSettings) async throws {
        let (opened, note) = try Device.open(settings.device, threads: settings.threads)
        let device = try opened.withActivations(settings.activationType)
        if let note { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        let hub = HubClient()
        let modelRoot = try await hub.resolveModel(settings.modelReference)
        let flowWeights = try await Self.resolveFlowWeights(settings.flowWeights, hub: hub)
        let repository = ModelRepository(root: modelRoot, overrides: settings.componentOverrides.mapValues {
            URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath, isDirectory: true)
        })
        pipeline = try Pipeline(model: repository, flowWeights: flowWeights, device: device, prompts: [settings.prompt])
        modelIdentity = try ModelIdentity.of(repository, flowWeights: flowWeights)
        var options = SessionOptions()
        options.numInferenceSteps = settings.numInferenceSteps
        options.prompt = settings.prompt
        options.seed = settings.seed
        options.noise = settings.noise
        options.flowIterations = settings.flowIterations
        options.flowResolution = settings.flowResolution
        options.tiling = settings.tiling
        options.tileOverlap = settings.tileOverlap
        options.tileBlending = settings.tileBlending
        if let path = settings.initialLatentsPath {
            options.initialLatents = try SafeTensorsFile(path: path).tensor("latents")
        }
        self.options = options
        torchNoise = TorchNoiseStream(source: settings.noise, seed: settings.seed)
    }

    func makeUpscaler(sequence: String) throws -> FrameUpscaling {
        ResumableSession(session: try pipeline.makeSession(sessionOptions), modelIdentity: modelIdentity)
    }

    func resumeUpscaler(sequence: String, state: [UInt8]) throws -> FrameUpscaling {
        let saved = try SessionState(serialized: state, modelIdentity: modelIdentity, options: options)
        return ResumableSession(session: try StreamSession(pipeline: pipeline, options: sessionOptions, resumingFrom: saved),
                                modelIdentity: modelIdentity)
    }

    /// The sessions' options: every sequence continues the run's one torch generator.
    private var sessionOptions: SessionOptions {
        var options = options
        options.torchNoise = torchNoise
        return options
    }

    static func resolveFlowWeights(_ reference: String, hub: HubClient) async throws -> URL {
        if reference.hasPrefix("http://") || reference.hasPrefix("https://"), let url = URL(string: reference) {
            return try await hub.cachedDownload(url: url, into: hub.configuration.torchCheckpointsDirectory)
        }
        let path = (reference as NSString).expandingTildeInPath
        guard FileManager.default.fileExists(atPath: path) else { throw PipelineSetupError.flowWeightsNotFound(reference) }
        return URL(fileURLWithPath: path)
    }
}

extension StreamSession: FrameUpscaling {}

/// A session whose state the job runner saves at every checkpoint.
final class ResumableSession: ResumableUpscaling {
    let session: StreamSession
    let modelIdentity: String

    init(session: StreamSession, modelIdentity: String) {
        self.session = session
        self.modelIdentity = modelIdentity
    }

    func upscale(_ frame: RGBImage) throws -> RGBImage {
        try session.upscale(frame)
    }

    func savedState() throws -> [UInt8] {
        try session.exportState().serialized(modelIdentity: modelIdentity, options: session.options)
    }
}
