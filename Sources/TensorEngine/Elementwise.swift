import Foundation

// Elementwise arithmetic with PyTorch broadcasting, and the activation functions.

/// Shape of the broadcast of `a` and `b` (numpy rules), or nil when they are incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    let paddedA = Array(repeating: 1, count: rank - a.count) + a
    let paddedB = Array(repeating: 1, count: rank - b.count) + b
    var result: [Int] = []
    for (x, y) in zip(paddedA, paddedB) {
        guard x == y || x == 1 || y == 1 else { return nil }
        result.append(x == 1 ? y : x)
    }
    return result
}

/// Applies `operation` elementwise to broadcast `a` and `b`.
@inline(__always)
func broadcasting(_ a: Tensor, _ b: Tensor, _ operation: (Float, Float) -> Float) -> Tensor {
    if a.shape == b.shape {
        let result = Tensor(uninitializedShape: a.shape)
        let (x, y, z) = (a.data, b.data, result.data)
        Parallel.forEachChunk(a.count, minimumChunk: 1 << 15) { range in
            for i in range { z[i] = operation(x[i], y[i]) }
        }
        return result
    }
    guard let shape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let rank = shape.count
    func strides(_ s: [Int]) -> [Int] {
        let padded = Array(repeating: 1, count: rank - s.count) + s
        var result = Array(repeating: 0, count: rank)
        var step = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) {
            result[axis] = padded[axis] == 1 ? 0 : step
            step *= padded[axis]
        }
        return result
    }
    let stridesA = strides(a.shape), stridesB = strides(b.shape)
    let result = Tensor(uninitializedShape: shape)
    let inner = shape.last ?? 1
    let outerCount = result.count / max(inner, 1)
    let (x, y, z) = (a.data, b.data, result.data)
    let innerA = stridesA.last ?? 0, innerB = stridesB.last ?? 0
    Parallel.forEachChunk(outerCount, minimumChunk: max(1, 4096 / max(inner, 1))) { range in
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
    return result
}

/// Applies `operation` to every element.
@inline(__always)
func mapped(_ a: Tensor, _ operation: (Float) -> Float) -> Tensor {
    let result = Tensor(uninitializedShape: a.shape)
    let (x, z) = (a.data, result.data)
    Parallel.forEachChunk(a.count, minimumChunk: 1 << 14) { range in
        for i in range { z[i] = operation(x[i]) }
    }
    return result
}

public func + (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, +) }
public func - (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, -) }
public func * (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, *) }
public func / (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, /) }
public func + (a: Tensor, b: Float) -> Tensor { mapped(a) { $0 + b } }
public func - (a: Tensor, b: Float) -> Tensor { mapped(a) { $0 - b } }
public func * (a: Tensor, b: Float) -> Tensor { mapped(a) { $0 * b } }
public func / (a: Tensor, b: Float) -> Tensor { mapped(a) { $0 / b } }
public func * (a: Float, b: Tensor) -> Tensor { mapped(b) { a * $0 } }
public func + (a: Float, b: Tensor) -> Tensor { mapped(b) { a + $0 } }
public func - (a: Float, b: Tensor) -> Tensor { mapped(b) { a - $0 } }
public prefix func - (a: Tensor) -> Tensor { mapped(a) { -$0 } }

extension Tensor {
    /// In-place `self += other` for same-shape tensors (the residual adds of the networks).
    public func add(_ other: Tensor, scale: Float = 1) {
        precondition(count == other.count, "add: \(shape) vs \(other.shape)")
        let (x, y) = (data, other.data)
        Parallel.forEachChunk(count, minimumChunk: 1 << 15) { range in
            for i in range { x[i] += scale * y[i] }
        }
    }
}

public func relu(_ x: Tensor) -> Tensor { mapped(x) { max($0, 0) } }
public func silu(_ x: Tensor) -> Tensor { mapped(x) { $0 / (1 + Foundation.exp(-$0)) } }
public func sigmoid(_ x: Tensor) -> Tensor { mapped(x) { 1 / (1 + Foundation.exp(-$0)) } }
public func tanh(_ x: Tensor) -> Tensor { mapped(x) { Foundation.tanh($0) } }
public func exp(_ x: Tensor) -> Tensor { mapped(x) { Foundation.exp($0) } }
public func sqrt(_ x: Tensor) -> Tensor { mapped(x) { $0.squareRoot() } }

public enum GELUApproximation: Sendable { case none, tanh }

/// PyTorch `gelu`: exact erf form, or the tanh approximation.
public func gelu(_ x: Tensor, approximation: GELUApproximation = .none) -> Tensor {
    switch approximation {
    case .none:
        return mapped(x) { 0.5 * $0 * (1 + Foundation.erf($0 * 0.70710678118654752)) }
    case .tanh:
        return mapped(x) { v in 0.5 * v * (1 + Foundation.tanh(0.79788456080286536 * (v + 0.044715 * v * v * v))) }
    }
}

/// OpenAI CLIP's `quick_gelu`: x * sigmoid(1.702 x).
public func quickGELU(_ x: Tensor) -> Tensor { mapped(x) { $0 / (1 + Foundation.exp(-1.702 * $0)) } }
