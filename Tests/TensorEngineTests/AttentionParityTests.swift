// softmax and multi-head scaled dot-product attention against torch.softmax /
// F.scaled_dot_product_attention (heads split from the channel axis, top-left causal mask).

import TensorEngine
import TestSupport
import XCTest

final class AttentionParityTests: XCTestCase {
    func testSoftmax() throws {
        let fixture = try engineFixture("attention")
        for name in ["rows", "length1"] {
            let result = softmax(try fixture["softmax.\(name).input"])
            assertClose(result, try fixture["softmax.\(name).output"], tolerance: 1e-6, "softmax \(name)")
        }
    }

    func testMaskedLogitsGiveExactZeros() throws {
        let fixture = try engineFixture("attention")
        let result = softmax(try fixture["softmax.rows.input"]).reshaped([3, 5, 37])
        let row = result.data + (1 * 5 + 2) * 37
        XCTAssertEqual((3..<9).map { row[$0] }, Array(repeating: 0, count: 6))
    }

    func testMultiHeadAttention() throws {
        let fixture = try engineFixture("attention")
        let cases: [(name: String, heads: Int, causal: Bool)] = [
            ("self", 4, false), ("cross", 3, false), ("value_width", 2, false),
            ("causal_square", 2, true), ("causal_fewer_queries", 2, true), ("causal_more_queries", 1, true),
            ("long", 2, false), ("long_causal", 2, true),
        ]
        for (name, heads, causal) in cases {
            let prefix = "attention.\(name)."
            let (query, key, value) = (try fixture[prefix + "query"], try fixture[prefix + "key"], try fixture[prefix + "value"])
            let expected = try fixture[prefix + "output"]
            // The default block, a block that leaves a ragged last chunk, and (short queries) one row at a time.
            for queryBlock in query.dim(1) <= 16 ? [256, 7, 1] : [256, 7] {
                let result = multiHeadAttention(query: query, key: key, value: value, heads: heads,
                                                causal: causal, queryBlock: queryBlock)
                assertClose(result, expected, tolerance: 1e-4, "attention \(name) queryBlock \(queryBlock)")
            }
        }
    }

    /// Sequences long enough for several query blocks and a thread split, against float64.
    func testLongSequencesAgainstFloat64Reference() {
        let query = seededTensor([1, 300, 32], seed: 41) * 2, key = seededTensor([1, 333, 32], seed: 42)
        let value = seededTensor([1, 333, 32], seed: 43)
        for causal in [false, true] {
            let expected = referenceAttention(query: query, key: key, value: value, heads: 2, causal: causal)
            for (threads, queryBlock) in [(1, 256), (5, 100)] {
                withThreadCounts([threads]) { _ in
                    let result = multiHeadAttention(query: query, key: key, value: value, heads: 2,
                                                    causal: causal, queryBlock: queryBlock)
                    assertClose(result, expected, tolerance: 1e-4,
                                "attention causal \(causal), queryBlock \(queryBlock), \(threads) threads")
                }
            }
        }
    }
}
