// Placeholder until the pipeline lands: the CLI's one dependency on the model stack.
struct PipelineSettings {
    var modelReference: String
    var flowWeights: String
    var numInferenceSteps: Int = 4
    var prompt: String = ""
    var seed: UInt64 = 0
    var initialLatentsPath: String?
    var threads: Int?
    var flowIterations: Int = 12
}

import VideoJobs

/// Until the pipeline is wired: fails with one clear line instead of upscaling.
struct PipelineUpscalerFactory: UpscalerFactory {
    struct NotAvailable: Error, CustomStringConvertible {
        var description: String { "the diffusion pipeline is not wired into the CLI yet (Sources/stream-diffvsr/PipelineFactory.swift)" }
    }

    init(settings: PipelineSettings) throws {
        throw NotAvailable()
    }

    func makeUpscaler(sequence: String) throws -> FrameUpscaling {
        throw NotAvailable()
    }
}
