// Every available device, for tests that run the same parity checks on each backend. A backend joins
// the whole operation suite by being listed here.

import Foundation
import TensorEngine
import XCTest

public enum TestDevices {
    /// The CPU engine (two threads, so the threaded paths run) and every other available device,
    /// unless `STREAM_DIFFVSR_TEST_DEVICES` (a comma-separated list such as `cpu,vulkan:0`) narrows it.
    public static let all: [Device] = {
        let requested = ProcessInfo.processInfo.environment["STREAM_DIFFVSR_TEST_DEVICES"]?
            .split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        var devices = [Device.cpu(threads: 2)]
        devices += Device.accelerators(includingSoftware: true)
        guard let requested else { return devices }
        return devices.filter { requested.contains($0.info.identifier) }
    }()
}

extension TestDevices {
    /// The CPU engine on one thread and on an uneven five, then every other test device: for shapes
    /// large enough to split work (threads on the CPU, workgroups and tiles on a GPU).
    public static let threadVariants: [Device] = [Device.cpu(threads: 1), Device.cpu(threads: 5)]
        + all.filter { $0.info.kind != .cpu }
}

extension XCTestCase {
    /// Runs `body` once per test device (`assertClose` names the device of a failure).
    public func forEachDevice(_ body: (Device) throws -> Void) rethrows {
        for device in TestDevices.all { try body(device) }
    }
}
