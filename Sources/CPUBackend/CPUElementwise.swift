import BackendInterface
import CKernels
import Foundation

extension CPUBackend {
    public func unary(_ operation: UnaryOperation, _ input: BackendBuffer, into output: BackendBuffer) {
        let (x, z, count) = (floats(input), floats(output), input.count)
        let activation: Int32
        switch operation {
        case .sqrt:
            mapped(x, z, count) { $0.squareRoot() }
            return
        case .relu: activation = Int32(SDV_ACTIVATION_RELU)
        case .silu: activation = Int32(SDV_ACTIVATION_SILU)
        case .sigmoid: activation = Int32(SDV_ACTIVATION_SIGMOID)
        case .tanh: activation = Int32(SDV_ACTIVATION_TANH)
        case .exp: activation = Int32(SDV_ACTIVATION_EXP)
        case .gelu: activation = Int32(SDV_ACTIVATION_GELU)
        case .geluTanh: activation = Int32(SDV_ACTIVATION_GELU_TANH)
        case .quickGELU: activation = Int32(SDV_ACTIVATION_QUICK_GELU)
        }
        // The per-ISA C kernels (Sources/CKernels): 16 lanes with the shared vector exp.
        let apply = kernels.activation
        pool.forEachChunk(count, minimumChunk: 1 << 14) { range in
            apply(activation, x + range.lowerBound, z + range.lowerBound, range.count)
        }
    }

    public func scalar(_ operation: ScalarOperation, _ input: BackendBuffer, _ s: Float, into output: BackendBuffer) {
        let (x, z, count) = (floats(input), floats(output), input.count)
        switch operation {
        case .add: mapped(x, z, count) { $0 + s }
        case .subtract: mapped(x, z, count) { $0 - s }
        case .multiply: mapped(x, z, count) { $0 * s }
        case .divide: mapped(x, z, count) { $0 / s }
        case .reverseSubtract: mapped(x, z, count) { s - $0 }
        }
    }

    public func binary(_ operation: BinaryOperation, _ a: BackendBuffer, _ b: BackendBuffer, into output: BackendBuffer,
                       _ layout: BroadcastLayout) {
        let (x, y, z) = (floats(a), floats(b), floats(output))
        switch operation {
        case .add: broadcasting(x, y, z, layout, +)
        case .subtract: broadcasting(x, y, z, layout, -)
        case .multiply: broadcasting(x, y, z, layout, *)
        case .divide: broadcasting(x, y, z, layout, /)
        }
    }

    public func accumulate(_ source: BackendBuffer, scale: Float, into target: BackendBuffer) {
        let (x, y) = (floats(target), floats(source))
        pool.forEachChunk(target.count, minimumChunk: 1 << 15) { range in
            for i in range { x[i] += scale * y[i] }
        }
    }

    public func blend(_ a: BackendBuffer, _ b: BackendBuffer, weight: BackendBuffer, into output: BackendBuffer) {
        let (x, y, w, z) = (floats(a), floats(b), floats(weight), floats(output))
        pool.forEachChunk(output.count, minimumChunk: 1 << 14) { range in
            for i in range { z[i] = (1 - w[i]) * x[i] + w[i] * y[i] }
        }
    }

    /// Applies `operation` elementwise to `a` and `b` laid out by `layout` (contiguous output).
    @inline(__always)
    private func broadcasting(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                              _ z: UnsafeMutablePointer<Float>, _ layout: BroadcastLayout,
                              _ operation: (Float, Float) -> Float) {
        let shape = layout.shape, rank = shape.count
        let count = layout.count
        let contiguous = BroadcastLayout.contiguousStrides(shape)
        if layout.aStrides == contiguous && layout.bStrides == contiguous {
            pool.forEachChunk(count, minimumChunk: 1 << 15) { range in
                for i in range { z[i] = operation(x[i], y[i]) }
            }
            return
        }
        let (stridesA, stridesB) = (layout.aStrides, layout.bStrides)
        let inner = shape.last ?? 1
        let outerCount = count / max(inner, 1)
        let innerA = stridesA.last ?? 0, innerB = stridesB.last ?? 0
        pool.forEachChunk(outerCount, minimumChunk: max(1, 4096 / max(inner, 1))) { range in
            for outer in range {
                var remainder = outer
                var offsetA = 0, offsetB = 0
                for axis in stride(from: rank - 2, through: 0, by: -1) {
                    let index = remainder % shape[axis]
                    remainder /= shape[axis]
                    offsetA += index * stridesA[axis]
                    offsetB += index * stridesB[axis]
                }
                let out = z + outer * inner
                for j in 0..<inner { out[j] = operation(x[offsetA + j * innerA], y[offsetB + j * innerB]) }
            }
        }
    }

    /// Applies `operation` to every element.
    @inline(__always)
    private func mapped(_ x: UnsafeMutablePointer<Float>, _ z: UnsafeMutablePointer<Float>, _ count: Int,
                        _ operation: (Float) -> Float) {
        pool.forEachChunk(count, minimumChunk: 1 << 14) { range in
            for i in range { z[i] = operation(x[i]) }
        }
    }
}

extension BroadcastLayout {
    /// Row-major element strides of `shape`.
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in shape.indices.reversed() {
            strides[axis] = step
            step *= shape[axis]
        }
        return strides
    }
}
