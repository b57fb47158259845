// softmax and multi-head scaled dot-product attention against torch.softmax /
// F.scaled_dot_product_attention (heads split from the channel axis, top-left causal mask), on every
// test device.

import TensorEngine
import TestSupport
import XCTest

final class AttentionParityTests: XCTestCase {
    func testSoftmax() throws {
        let fixture = try engineFixture("attention")
        try forEachDevice { device in
            for name in ["rows", "length1"] {
                let result = softmax(try fixture.tensor("softmax.\(name).input", on: device))
                assertClose(result, try fixture["softmax.\(name).output"], tolerance: 1e-6, "softmax \(name)")
            }
        }
    }

    func testMaskedLogitsGiveExactZeros() throws {
        let fixture = try engineFixture("attention")
        try forEachDevice { device in
            let result = try softmax(try fixture.tensor("softmax.rows.input", on: device)).scalars
            let row = (1 * 5 + 2) * 37
            XCTAssertEqual(Array(result[(row + 3)..<(row + 9)]), Array(repeating: 0, count: 6), device.description)
        }
    }

    func testMultiHeadAttention() throws {
        let fixture = try engineFixture("attention")
        let cases: [(name: String, heads: Int, causal: Bool)] = [
            ("self", 4, false), ("cross", 3, false), ("value_width", 2, false),
            ("causal_square", 2, true), ("causal_fewer_queries", 2, true), ("causal_more_queries", 1, true),
            ("long", 2, false), ("long_causal", 2, true),
        ]
        try forEachDevice { device in
            for (name, heads, causal) in cases {
                let prefix = "attention.\(name)."
                let result = multiHeadAttention(query: try fixture.tensor(prefix + "query", on: device),
                                                key: try fixture.tensor(prefix + "key", on: device),
                                                value: try fixture.tensor(prefix + "value", on: device),
                                                heads: heads, causal: causal)
                assertClose(result, try fixture[prefix + "output"], tolerance: 1e-4, "attention \(name)")
            }
        }
    }

    /// Sequences long enough for several query blocks and a work split, against float64.
    func testLongSequencesAgainstFloat64Reference() {
        let query = HostTensor(seeded: [1, 300, 32], seed: 41, scale: 2), key = HostTensor(seeded: [1, 333, 32], seed: 42)
        let value = HostTensor(seeded: [1, 333, 32], seed: 43)
        for causal in [false, true] {
            let expected = referenceAttention(query: query, key: key, value: value, heads: 2, causal: causal).on(.cpu)
            for device in TestDevices.threadVariants {
                let result = multiHeadAttention(query: query.on(device), key: key.on(device), value: value.on(device),
                                                heads: 2, causal: causal)
                assertClose(result, expected, tolerance: 1e-4, "attention causal \(causal) on \(device)")
            }
        }
    }
}
