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
