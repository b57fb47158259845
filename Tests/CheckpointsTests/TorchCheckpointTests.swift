import Checkpoints
import Foundation
import TensorEngine
import XCTest

/// Path of a file in this target's Fixtures folder (written by tools/fixtures/gen_checkpoints.py).
func fixturePath(_ name: String) -> String {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

/// Every tensor of `actual` equals the reference library's float32 conversion of it, and the key sets match.
func assertSameTensors(_ actual: StateDict, _ expected: StateDict, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertEqual(actual.keys, expected.keys, file: file, line: line)
    for key in expected.keys {
        guard let entry = actual[key] else { continue }
        let reference = try expected.tensor(key)
        let loaded = try entry.load()
        XCTAssertEqual(loaded.shape, reference.shape, key, file: file, line: line)
        XCTAssertEqual(try loaded.scalars, try reference.scalars, key, file: file, line: line)
    }
}

final class TorchCheckpointTests: XCTestCase {
    func testStateDictWithStridedSharedAndMixedDTypeTensorsMatchesTorch() throws {
        let stateDict = try StateDict(pytorchCheckpoint: fixturePath("torch_state_dict.pt"))
        let expected = try StateDict(contentsOf: fixturePath("torch_state_dict_expected.safetensors"))
        try assertSameTensors(stateDict, expected)
        XCTAssertEqual(stateDict["linear.weight_t"]?.strides, [1, 6])
        XCTAssertEqual(stateDict["sliced"]?.strides, [7, 1])
        XCTAssertEqual(stateDict["half"]?.dtype, .float16)
        XCTAssertEqual(stateDict["bf16"]?.dtype, .bfloat16)
        XCTAssertEqual(stateDict["bn.num_batches_tracked"]?.shape, [])
        XCTAssertEqual(try stateDict.tensor("bn.num_batches_tracked").scalars, [17])
        XCTAssertEqual(try stateDict.tensor("mask").scalars, [1, 0, 1])
    }

    func testFormatIsDetectedByContent() throws {
        let viaDetection = try StateDict(contentsOf: fixturePath("torch_state_dict.pt"))
        XCTAssertEqual(viaDetection.keys.count, 13)
    }

    func testDiffusersBinLoadsStrictlyLikeItsSafetensorsTwin() throws {
        let stateDict = try StateDict(contentsOf: fixturePath("diffusers_bin/diffusion_pytorch_model.bin"))
        let expected = try StateDict(contentsOf: fixturePath("diffusers_bin_expected.safetensors"))
        try assertSameTensors(stateDict, expected)
        let loader = WeightLoader(stateDict)
        for key in expected.keys { _ = loader(key, shape: expected[key]!.shape) }
        XCTAssertNoThrow(try loader.finish())
    }

    func testShardedCheckpointsInBothFormats() throws {
        let expected = try StateDict(contentsOf: fixturePath("sharded_expected.safetensors"))
        for index in ["sharded_safetensors/model.safetensors.index.json", "sharded_bin/pytorch_model.bin.index.json"] {
            try assertSameTensors(try StateDict(contentsOf: fixturePath(index)), expected)
        }
    }

    func testPickleCallingAnArbitraryGlobalIsRefusedByName() {
        XCTAssertThrowsError(try StateDict(contentsOf: fixturePath("hostile_global.pt"))) { error in
            guard case let CheckpointError.disallowedGlobal(_, name) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "posix.system")
            XCTAssertTrue("\(error)".contains("posix.system"))
        }
    }

    func testLegacyFormatAndNonTensorValuesGiveClearErrors() {
        XCTAssertThrowsError(try StateDict(contentsOf: fixturePath("legacy_format.pt"))) { error in
            XCTAssertTrue("\(error)".contains("legacy torch.save format"), "\(error)")
        }
        XCTAssertThrowsError(try StateDict(contentsOf: fixturePath("not_only_tensors.pt"))) { error in
            XCTAssertTrue("\(error)".contains("'step' is a int"), "\(error)")
        }
        XCTAssertThrowsError(try StateDict(contentsOf: fixturePath("does_not_exist.pt"))) { error in
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
        }
    }

    func testStrictLoadingReportsEveryProblemByName() throws {
        let stateDict = try StateDict(pytorchCheckpoint: fixturePath("torch_state_dict.pt"))
        let loader = WeightLoader(stateDict)
        _ = loader["conv"]("weight", shape: [3, 2, 3, 3])
        _ = loader("half", shape: [5, 3])
        _ = loader("absent.bias", shape: [2])
        XCTAssertThrowsError(try loader.finish()) { error in
            guard let failure = error as? WeightLoadingError else { return XCTFail("\(error)") }
            XCTAssertEqual(failure.missing, ["absent.bias"])
            XCTAssertEqual(failure.shapeMismatches.map(\.key), ["half"])
            XCTAssertEqual(failure.unexpected.count, 11)
            XCTAssertTrue(failure.unexpected.contains("sliced"))
        }
    }

    /// The real RAFT checkpoint format (torchvision raft_large state_dict), when the shared golden data
    /// is next to the project; a clone elsewhere skips it.
    func testSharedRaftLargeCheckpointLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/golden/raft_large_random.pth").standardized.path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("no ../shared/golden/raft_large_random.pth") }
        let stateDict = try StateDict(contentsOf: path)
        XCTAssertEqual(stateDict.keys.count, 169)
        XCTAssertEqual(stateDict["feature_encoder.convnormrelu.0.weight"]?.shape, [64, 3, 7, 7])
        XCTAssertEqual(stateDict["context_encoder.convnormrelu.1.num_batches_tracked"]?.shape, [])
        let weight = try stateDict.tensor("feature_encoder.convnormrelu.0.weight")
        XCTAssertTrue(try weight.scalars.allSatisfy { $0.isFinite })
    }
}
