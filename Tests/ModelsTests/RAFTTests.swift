// Parity of RAFT-large against torchvision (fixtures from tools/fixtures/gen_raft.py). The 21 MB of
// weights are not committed: both sides generate them from the formula documented in gen_raft.py,
// and the fixture carries the parameter list and per-tensor sums to check the generator itself.

import Checkpoints
import Foundation
import Models
import TensorEngine
import TestSupport
import XCTest

final class RAFTTests: XCTestCase {
    /// Guards `cachedWeights`, written once per test run.
    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cachedWeights: StateDict?

    /// The formula weights of the fixture's parameter list, written once to a temporary safetensors file.
    private func formulaWeights() throws -> StateDict {
        Self.cacheLock.lock()
        defer { Self.cacheLock.unlock() }
        if let cached = Self.cachedWeights { return cached }
        let fixture = try Fixture("raft_128", in: .module)
        let parameters = try FormulaWeights.parameterList(fixture.file.metadata["parameters"] ?? "")
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("raft-formula-\(ProcessInfo.processInfo.processIdentifier).safetensors").path
        try FormulaWeights.writeSafeTensors(parameters, to: path)
        let weights = try StateDict(safetensors: path)
        Self.cachedWeights = weights
        return weights
    }

    private func makeRAFT(strategy: CorrelationPyramid.Strategy = .standard) throws -> RAFT {
        let loader = WeightLoader(try formulaWeights())
        let raft = RAFT(weights: loader, correlationStrategy: strategy)
        try loader.finish(ignoring: RAFT.isUnusedKey)
        return raft
    }

    func testFormulaWeightsMatchTheFixtureGenerator() throws {
        let fixture = try Fixture("raft_128", in: .module)
        let parameters = try FormulaWeights.parameterList(fixture.file.metadata["parameters"] ?? "")
        XCTAssertEqual(parameters.count, 154, "raft_large has 154 float tensors besides num_batches_tracked")
        let sums = try fixture["weight_sums"].scalars
        XCTAssertEqual(sums.count, parameters.count)
        let weights = try formulaWeights()
        for (index, parameter) in parameters.enumerated() {
            let tensor = try XCTUnwrap(weights[parameter.key]).load()
            let sum = try tensor.scalars.reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(sum, Double(sums[index]), accuracy: 1e-4 * max(1, abs(sum)), parameter.key)
        }
    }

    func testCorrelationLookupMatchesTorchvisionInBothForms() throws {
        let fixture = try Fixture("raft_correlation", in: .module)
        let (fmap1, fmap2, coordinates) = (try fixture["fmap1"], try fixture["fmap2"], try fixture["coords"])
        let expected = try fixture["corr_features"]
        for strategy in [CorrelationPyramid.Strategy.fullVolume, .onDemand] {
            let pyramid = CorrelationPyramid(fmap1: fmap1, fmap2: fmap2, strategy: strategy)
            assertClose(pyramid.lookup(coordinates), expected, tolerance: 2e-5, "\(strategy)")
        }
    }

    func testAutomaticStrategyBoundsMemory() {
        XCTAssertEqual(CorrelationPyramid.Strategy.standard.resolved(featureHeight: 16, featureWidth: 20), .fullVolume)
        // 720p: 90 x 160 feature maps, a 830 MB level-0 volume.
        XCTAssertEqual(CorrelationPyramid.Strategy.standard.resolved(featureHeight: 90, featureWidth: 160), .onDemand)
    }

    // Debug builds run the engine unoptimised (~1 min of CPU per 128 x 128 RAFT run), so the suite
    // keeps to two runs: 12 full-volume iterations at 128 x 128, and 3 on-demand iterations on small frames.
    func testFlowMatchesTorchvisionOn128x128() throws {
        let fixture = try Fixture("raft_128", in: .module)
        let raft = try makeRAFT(strategy: .fullVolume)
        let estimate = raft.estimate(image1: try fixture["image1"], image2: try fixture["image2"], iterations: 12,
                                     keepIntermediates: true)
        assertClose(try XCTUnwrap(estimate.featureMaps), try fixture["fmaps"], tolerance: 1e-4, "fmaps")
        assertClose(try XCTUnwrap(estimate.contextFeatures), try fixture["context"], tolerance: 1e-4, "context")
        let lowResolution = try fixture["lowres_flows"]
        XCTAssertEqual(estimate.lowResolutionFlows.count, 12)
        for (index, flow) in estimate.lowResolutionFlows.enumerated() {
            assertClose(flow, lowResolution.slice(axis: 0, index..<index + 1), tolerance: 1e-4, "low-res flow \(index + 1)")
        }
        assertClose(estimate.upsampledFlows[0], try fixture["flow_first"], tolerance: 1e-4, "flow after 1 update")
        assertClose(estimate.flow, try fixture["flow"], tolerance: 1e-4, "flow after 12 updates")
        assertClose(estimate.upsampledFlows[11], estimate.flow, tolerance: 0, "last kept flow is the result")
    }

    /// 60 x 44 frames are under RAFT's 128 px minimum and not multiples of 8: replicate-padded to
    /// 128 x 128, the flow cropped back (the fixture does the same around torchvision). Runs the
    /// memory-bounded correlation, so it also checks that form end to end.
    func testSmallFramesArePaddedAndCroppedWithOnDemandCorrelation() throws {
        let fixture = try Fixture("raft_small", in: .module)
        let raft = try makeRAFT(strategy: .onDemand)
        let estimate = raft.estimate(image1: try fixture["image1"], image2: try fixture["image2"], iterations: 3)
        XCTAssertEqual(estimate.flow.shape, [1, 2, 44, 60])
        XCTAssertEqual(estimate.lowResolutionFlows.first?.shape, [1, 2, 16, 16], "1/8 grid of the padded frame")
        let lowResolution = try fixture["lowres_flows"]
        for (index, flow) in estimate.lowResolutionFlows.enumerated() {
            assertClose(flow, lowResolution.slice(axis: 0, index..<index + 1), tolerance: 1e-4, "low-res flow \(index + 1)")
        }
        assertClose(estimate.flow, try fixture["flow"], tolerance: 1e-4, "cropped flow")
    }

    func testMissingAndMisshapenKeysAreReportedByName() throws {
        var entries = try formulaWeights().entries
        entries["mask_predictor.conv.bias"] = nil
        entries["update_block.flow_head.conv2.weight"] = entries["update_block.flow_head.conv1.weight"]
        let loader = WeightLoader(StateDict(source: "broken", entries: entries))
        _ = RAFT(weights: loader)
        XCTAssertThrowsError(try loader.finish(ignoring: RAFT.isUnusedKey)) { error in
            let text = "\(error)"
            XCTAssert(text.contains("mask_predictor.conv.bias"), text)
            XCTAssert(text.contains("update_block.flow_head.conv2.weight"), text)
        }
    }

    /// The golden run's RAFT (random torchvision checkpoint, 160 x 128 bicubic-upscaled frames), when
    /// the shared golden folder is next to the repository.
    func testGoldenFlowWhenAvailable() throws {
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let golden = root.appendingPathComponent("shared/golden")
        let checkpoint = golden.appendingPathComponent("raft_large_random.pth").path
        let intermediatesPath = golden.appendingPathComponent("visible/intermediates.safetensors").path
        guard FileManager.default.fileExists(atPath: checkpoint), FileManager.default.fileExists(atPath: intermediatesPath) else {
            throw XCTSkip("no shared golden folder at \(golden.path)")
        }
        #if DEBUG
        throw XCTSkip("golden RAFT check (160 x 128, 12 iterations) runs in release builds: swift test -c release")
        #endif
        let loader = WeightLoader(try StateDict(contentsOf: checkpoint))
        let raft = RAFT(weights: loader)
        try loader.finish(ignoring: RAFT.isUnusedKey)
        let intermediates = try SafeTensorsFile(path: intermediatesPath)
        let (current, previous) = (try intermediates.tensor("upscaled_0001"), try intermediates.tensor("upscaled_0000"))
        let estimate = raft.estimate(image1: current, image2: previous, keepIntermediates: true)
        assertClose(try XCTUnwrap(estimate.featureMaps), try intermediates.tensor("raft_0001_fmaps"), tolerance: 1e-4, "golden fmaps")
        let lowResolution = try intermediates.tensor("raft_0001_lowres_flow_iters")
        for (index, flow) in estimate.lowResolutionFlows.enumerated() {
            assertClose(flow, lowResolution.slice(axis: 0, index..<index + 1).reshaped(flow.shape), tolerance: 1e-4,
                        "golden low-res flow \(index + 1)")
        }
        // The golden stores flows as [1, H, W, 2].
        assertClose(estimate.flow.permuted([0, 2, 3, 1]), try intermediates.tensor("flow_0001"), tolerance: 1e-4, "golden flow_0001")
    }
}
