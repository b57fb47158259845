// Loading the engine parity fixtures written by tools/fixtures/gen_engine.py (one file per op family).

import Checkpoints
import TensorEngine
import TestSupport
import XCTest

/// The engine fixtures are small, so each test loads the file it needs.
func engineFixture(_ family: String, file: StaticString = #filePath, line: UInt = #line) throws -> Fixture {
    try Fixture("engine_" + family, in: .module, file: file, line: line)
}

extension Fixture {
    /// The tensor at `key` on `device`, or nil when the fixture has none (optional inputs such as a bias).
    func optional(_ key: String, on device: Device) throws -> Tensor? {
        file.entries[key] == nil ? nil : try tensor(key, on: device)
    }
}
