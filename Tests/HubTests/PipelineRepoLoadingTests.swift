import Checkpoints
@testable import Hub
import Foundation
import XCTest

/// The tiny diffusers-layout repo of Fixtures/tiny_pipeline (written by save_pretrained) loads strictly,
/// component by component, from its folder and from the stand-in hub by repo id.
final class PipelineRepoLoadingTests: XCTestCase {
    static var fixtures: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures") }
    static var pipelineFolder: URL { fixtures.appendingPathComponent("tiny_pipeline") }

    /// Every key with the shape torch reported, per component (tiny_pipeline_shapes.json).
    func expectedShapes() throws -> [String: [String: [Int]]] {
        try JSONDecoder().decode([String: [String: [Int]]].self,
                                 from: Data(contentsOf: Self.fixtures.appendingPathComponent("tiny_pipeline_shapes.json")))
    }

    /// Loads each component's chosen weight file and asks for every parameter, as a model would.
    func assertLoadsStrictly(_ folder: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        for (component, shapes) in try expectedShapes() {
            let names = Set((try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent(component).path)) ?? [])
            guard let weightFile = ModelFileSelection.weights(in: names, variant: nil).first else {
                return XCTFail("\(component) has no weights", file: file, line: line)
            }
            let stateDict = try StateDict(contentsOf: folder.appendingPathComponent(component).appendingPathComponent(weightFile).path)
            let loader = WeightLoader(stateDict)
            for (key, shape) in shapes { _ = loader(key, shape: shape) }
            XCTAssertNoThrow(try loader.finish(), component, file: file, line: line)
        }
    }

    func testLoadsFromALocalFolder() async throws {
        let hub = HubClient(configuration: HubConfiguration(offline: true, cacheDirectory: URL(fileURLWithPath: "/nonexistent"),
                                                            torchHubDirectory: URL(fileURLWithPath: "/nonexistent")), progress: nil)
        let folder = try await hub.resolveModel(Self.pipelineFolder.path)
        XCTAssertEqual(folder.standardizedFileURL.path, Self.pipelineFolder.standardizedFileURL.path)
        try assertLoadsStrictly(folder)
    }

    func testLoadsByRepoIDThroughTheHub() async throws {
        let root = Self.pipelineFolder
        var files: [String: Data] = [:]
        for case let relative as String in FileManager.default.enumerator(atPath: root.path)! {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root.appendingPathComponent(relative).path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[relative] = try Data(contentsOf: root.appendingPathComponent(relative))
            }
        }
        let server = HubTestServer()
        server.addRepo("tiny-org/tiny-pipeline", commit: String(repeating: "ab", count: 20), files: files,
                       lfs: Set(files.keys.filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") }))
        try await server.start()
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("hub-pipeline-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let configuration = HubConfiguration(endpoint: server.endpoint, cacheDirectory: cache, torchHubDirectory: cache)
        let folder = try await HubClient(configuration: configuration, progress: nil).resolveModel("tiny-org/tiny-pipeline")
        await server.stop()
        try assertLoadsStrictly(folder)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("vae/diffusion_pytorch_model.bin").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("tokenizer/merges.txt").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("text_encoder/model-00002-of-00002.safetensors").path))
    }
}
