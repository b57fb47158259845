// concat, slice, chunk, permute and pad against torch (exact copies must match exactly), on every
// test device, also for float16 storage (copies move stored elements, whatever their type).

import TensorEngine
import TestSupport
import XCTest

final class ShapeParityTests: XCTestCase {
    func testConcat() throws {
        let fixture = try engineFixture("shape")
        let cases: [(name: String, parts: Int, axis: Int)] = [("axis1", 3, 1), ("last_axis", 2, -1), ("axis0", 2, 0)]
        try forEachDevice { device in
            for (name, parts, axis) in cases {
                let tensors = try (0..<parts).map { try fixture.tensor("concat.\(name).part\($0)", on: device) }
                assertClose(concat(tensors, axis: axis), try fixture["concat.\(name).output"], tolerance: 0, "concat \(name)")
            }
        }
    }

    func testSliceAndChunk() throws {
        let fixture = try engineFixture("shape")
        try forEachDevice { device in
            let x = try fixture.tensor("slice.input", on: device)
            assertClose(x.slice(axis: 2, 1..<4), try fixture["slice.axis2.output"], tolerance: 0, "slice axis 2")
            assertClose(x.slice(axis: -1, 1..<2), try fixture["slice.last_axis.output"], tolerance: 0, "slice last axis")
            let chunks = try fixture.tensor("chunk.input", on: device).chunked(3, axis: 1)
            XCTAssertEqual(chunks.count, 3)
            for (index, chunk) in chunks.enumerated() {
                assertClose(chunk, try fixture["chunk.part\(index)"], tolerance: 0, "chunk \(index)")
            }
        }
    }

    func testPermute() throws {
        let fixture = try engineFixture("shape")
        try forEachDevice { device in
            let x = try fixture.tensor("permute.input", on: device)
            assertClose(x.permuted([0, 2, 3, 1]), try fixture["permute.nhwc.output"], tolerance: 0, "NCHW -> NHWC")
            assertClose(x.permuted([3, 1, 0, 2]), try fixture["permute.scrambled.output"], tolerance: 0, "scrambled")
            assertClose(try fixture.tensor("permute.matrix.input", on: device).permuted([1, 0]), try fixture["permute.matrix.output"],
                        tolerance: 0, "transpose")
            // Half storage moves the same elements (the fixture values widen back exactly after rounding).
            let half = x.converted(to: .float16)
            assertClose(half.permuted([3, 1, 0, 2]).converted(to: .float32),
                        try fixture["permute.scrambled.output"].converted(to: .float16).converted(to: .float32),
                        tolerance: 0, "float16 permute")
        }
    }

    func testPad() throws {
        let fixture = try engineFixture("stream")
        // name: (top, bottom, left, right, mode), mirroring F.pad's (left, right, top, bottom) in gen_engine.py.
        let cases: [(name: String, top: Int, bottom: Int, left: Int, right: Int, mode: PadMode)] = [
            ("zeros_bottom_right", 0, 1, 0, 1, .zeros), ("zeros_all_sides", 3, 1, 2, 1, .zeros),
            ("replicate_bottom_right", 0, 2, 0, 11, .replicate), ("replicate_all_sides", 2, 5, 3, 1, .replicate),
            ("replicate_one_pixel", 0, 3, 0, 4, .replicate),
        ]
        try forEachDevice { device in
            for (name, top, bottom, left, right, mode) in cases {
                let x = try fixture.tensor("pad.\(name).input", on: device)
                assertClose(x.padded(top: top, bottom: bottom, left: left, right: right, mode: mode),
                            try fixture["pad.\(name).output"], tolerance: 0, "pad \(name)")
            }
        }
    }

    func testEmbedding() throws {
        let fixture = try engineFixture("stream")
        let indices = try fixture["embedding.indices"].scalars.map { Int($0) }
        try forEachDevice { device in
            assertClose(embedding(try fixture.tensor("embedding.table", on: device), indices: indices),
                        try fixture["embedding.output"], tolerance: 0, "embedding")
        }
    }

    /// A window equals the two slices it stands for (slices are checked against torch above), and
    /// writing it back elsewhere changes exactly that region.
    func testWindowsReadAndWriteRegions() throws {
        let fixture = try engineFixture("stream")
        try forEachDevice { device in
            let x = try fixture.tensor("pad.zeros_bottom_right.input", on: device)
            let window = x.window(row: 1, column: 2, height: 3, width: 4)
            assertClose(window, x.slice(axis: 2, 1..<4).slice(axis: 3, 2..<6), tolerance: 0, "window")
            var target = Tensor(zeros: x.shape, on: device)
            target.replaceWindow(row: 2, column: 3, with: window)
            let expected = window.padded(top: 2, bottom: x.dim(2) - 5, left: 3, right: x.dim(3) - 7)
            assertClose(target, expected, tolerance: 0, "replaceWindow")
        }
    }

    func testReshapeSharesStorageAndInPlaceUpdatesCopyOnWrite() throws {
        try forEachDevice { device in
            let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6], on: device)
            var y = x.reshaped([3, 2])
            XCTAssertTrue(y.sharesStorage(with: x))
            y += Tensor(repeating: 10, shape: [2], on: device)
            XCTAssertFalse(y.sharesStorage(with: x), "an update of a shared storage must copy it first")
            XCTAssertEqual(try x.scalars, [1, 2, 3, 4, 5, 6])
            XCTAssertEqual(try y.scalars, [11, 12, 13, 14, 15, 16])
        }
    }
}
