// The committed SPIR-V (Sources/VulkanBackend/ShaderBinaries.swift) must be what the GLSL sources
// compile to: the test runs scripts/compile-shaders.sh into a scratch file and compares. glslc output
// depends on its version, so another glslc than the one that wrote the file skips the comparison.

import Foundation
import XCTest

final class ShaderBinariesTests: XCTestCase {
    func testCommittedSPIRVMatchesTheShaderSources() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let committed = try String(contentsOf: root.appendingPathComponent("Sources/VulkanBackend/ShaderBinaries.swift"), encoding: .utf8)
        guard let glslcVersion = try? run("/usr/bin/env", ["glslc", "--version"]).split(separator: "\n").first else {
            throw XCTSkip("glslc is not installed (apt-get install glslc)")
        }
        guard committed.contains("static let compiler = \"\(glslcVersion)\"") else {
            throw XCTSkip("the binaries were compiled by another glslc than \(glslcVersion)")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ShaderBinaries-\(UUID().uuidString).swift")
        defer { try? FileManager.default.removeItem(at: scratch) }
        _ = try run(root.appendingPathComponent("scripts/compile-shaders.sh").path, [scratch.path])
        let recompiled = try String(contentsOf: scratch, encoding: .utf8)
        XCTAssert(recompiled == committed, "Sources/VulkanBackend/ShaderBinaries.swift is stale: run scripts/compile-shaders.sh")
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        return String(decoding: output, as: UTF8.self)
    }
}
