// Elementwise arithmetic with PyTorch broadcasting, the activation functions, and the in-place updates.

import BackendInterface

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

/// Element strides of `shape` read as `target` (rank-padded on the left; size-1 axes repeat: stride 0).
private func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let padded = Array(repeating: 1, count: target.count - shape.count) + shape
    let strides = contiguousStrides(padded)
    return zip(padded, strides).map { size, stride in size == 1 ? 0 : stride }
}

private func binary(_ operation: BinaryOperation, _ a: Tensor, _ b: Tensor) -> Tensor {
    a.requireSameDevice(b, operation: "elementwise arithmetic")
    guard let shape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let (x, y) = (a.operand, b.operand)
    let result = Tensor(uninitializedShape: shape, on: a.device)
    a.backend.binary(operation, x.buffer, y.buffer, into: result.buffer,
                     BroadcastLayout(shape: shape, aStrides: broadcastStrides(a.shape, to: shape),
                                     bStrides: broadcastStrides(b.shape, to: shape)))
    return result
}

private func scalar(_ operation: ScalarOperation, _ a: Tensor, _ s: Float) -> Tensor {
    let x = a.operand
    let result = Tensor(uninitializedShape: a.shape, on: a.device)
    a.backend.scalar(operation, x.buffer, s, into: result.buffer)
    return result
}

private func unary(_ operation: UnaryOperation, _ a: Tensor) -> Tensor {
    let x = a.operand
    let result = Tensor(uninitializedShape: a.shape, on: a.device)
    a.backend.unary(operation, x.buffer, into: result.buffer)
    return result
}

public func + (a: Tensor, b: Tensor) -> Tensor { binary(.add, a, b) }
public func - (a: Tensor, b: Tensor) -> Tensor { binary(.subtract, a, b) }
public func * (a: Tensor, b: Tensor) -> Tensor { binary(.multiply, a, b) }
public func / (a: Tensor, b: Tensor) -> Tensor { binary(.divide, a, b) }
public func + (a: Tensor, b: Float) -> Tensor { scalar(.add, a, b) }
public func - (a: Tensor, b: Float) -> Tensor { scalar(.subtract, a, b) }
public func * (a: Tensor, b: Float) -> Tensor { scalar(.multiply, a, b) }
public func / (a: Tensor, b: Float) -> Tensor { scalar(.divide, a, b) }
public func * (a: Float, b: Tensor) -> Tensor { scalar(.multiply, b, a) }
public func + (a: Float, b: Tensor) -> Tensor { scalar(.add, b, a) }
public func - (a: Float, b: Tensor) -> Tensor { scalar(.reverseSubtract, b, a) }
public prefix func - (a: Tensor) -> Tensor { scalar(.multiply, a, -1) }

extension Tensor {
    /// In place `self = self + other` (`other` broadcasts to this shape): the residual adds of the networks.
    public static func += (lhs: inout Tensor, rhs: Tensor) {
        lhs.requireSameDevice(rhs, operation: "+=")
        precondition(broadcastShape(lhs.shape, rhs.shape) == lhs.shape, "+=: \(rhs.shape) does not broadcast to \(lhs.shape)")
        lhs = lhs.operand
        // rhs holds its own reference, so a shared storage is copied here and never aliases the output.
        lhs.makeUnique()
        let other = rhs.operand
        lhs.backend.binary(.add, lhs.buffer, other.buffer, into: lhs.buffer,
                           BroadcastLayout(shape: lhs.shape, aStrides: contiguousStrides(lhs.shape),
                                           bStrides: broadcastStrides(rhs.shape, to: lhs.shape)))
    }

    /// In place `self = self + scale * other` (same element count), rounded as a multiply then an add.
    public mutating func add(_ other: Tensor, scaledBy scale: Float) {
        requireSameDevice(other, operation: "add(_:scaledBy:)")
        precondition(count == other.count, "add(_:scaledBy:): \(shape) vs \(other.shape)")
        self = operand
        makeUnique()
        backend.accumulate(other.operand.buffer, scale: scale, into: buffer)
    }
}

/// `(1 - weight) * a + weight * b`, computed in that form (torchvision's ConvGRU writes its update so).
public func blend(_ a: Tensor, _ b: Tensor, weight: Tensor) -> Tensor {
    a.requireSameDevice(b, weight, operation: "blend")
    precondition(a.shape == b.shape && a.shape == weight.shape, "blend: shapes \(a.shape), \(b.shape), weight \(weight.shape)")
    let (x, y, w) = (a.operand, b.operand, weight.operand)
    let result = Tensor(uninitializedShape: a.shape, on: a.device)
    a.backend.blend(x.buffer, y.buffer, weight: w.buffer, into: result.buffer)
    return result
}

/// NaN stays NaN and -0 stays -0 (comparison-based, like PyTorch's clamp_min).
public func relu(_ x: Tensor) -> Tensor { unary(.relu, x) }
public func silu(_ x: Tensor) -> Tensor { unary(.silu, x) }
public func sigmoid(_ x: Tensor) -> Tensor { unary(.sigmoid, x) }
public func tanh(_ x: Tensor) -> Tensor { unary(.tanh, x) }
public func exp(_ x: Tensor) -> Tensor { unary(.exp, x) }
public func sqrt(_ x: Tensor) -> Tensor { unary(.sqrt, x) }

public enum GELUApproximation: Sendable { case none, tanh }

/// PyTorch `gelu`: exact erf form, or the tanh approximation.
public func gelu(_ x: Tensor, approximation: GELUApproximation = .none) -> Tensor {
    unary(approximation == .none ? .gelu : .geluTanh, x)
}

/// OpenAI CLIP's `quick_gelu`: x * sigmoid(1.702 x).
public func quickGELU(_ x: Tensor) -> Tensor { unary(.quickGELU, x) }
