import Foundation
import StreamDiffVSR
import TestSupport

/// The tiny model of tools/fixtures/gen_pipeline.py with formula RAFT-large weights (the same weights
/// the CLI tests write for `--flow-weights`), loaded once per test run and shared by the test classes.
enum TinyPipeline {
    /// Guards the two caches: test classes may load the pipeline from several threads. Recursive because
    /// `load()` asks for the flow weights while holding it.
    private static let lock = NSRecursiveLock()
    nonisolated(unsafe) private static var cached: Pipeline?

    static var fixtures: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)! }

    nonisolated(unsafe) private static var cachedFlowWeights: URL?

    static func load() throws -> Pipeline {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        // A CPU device of its own (not `Device.cpu`), so a tensor made on the default device by mistake trips the device check.
        let pipeline = try Pipeline(model: ModelRepository(root: fixtures.appendingPathComponent("tiny_model")), flowWeights: flowWeights(),
                                    device: .cpu(threads: 2))
        cached = pipeline
        return pipeline
    }

    /// The formula RAFT-large weights as a safetensors file (written once per test run).
    static func flowWeights() throws -> URL {
        lock.lock()
        defer { lock.unlock() }
        if let cachedFlowWeights { return cachedFlowWeights }
        let parameters = try FormulaWeights.parameterList(
            String(contentsOf: fixtures.appendingPathComponent("raft_large_parameters.txt"), encoding: .utf8))
        let flowWeights = FileManager.default.temporaryDirectory
            .appendingPathComponent("pipeline-raft-\(ProcessInfo.processInfo.processIdentifier).safetensors")
        try FormulaWeights.writeSafeTensors(parameters, to: flowWeights.path)
        cachedFlowWeights = flowWeights
        return flowWeights
    }
}
