// Shape manipulation: concatenation, slicing, permutation, and reductions. All return copies.

/// Concatenates tensors along `axis` (all other dimensions equal).
public func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat of nothing")
    let first = tensors[0]
    let axis = axis < 0 ? axis + first.rank : axis
    for t in tensors {
        precondition(t.rank == first.rank && (0..<first.rank).allSatisfy { $0 == axis || t.shape[$0] == first.shape[$0] },
                     "concat: \(t.shape) does not match \(first.shape) outside axis \(axis)")
    }
    var shape = first.shape
    shape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
    let result = Tensor(uninitializedShape: shape)
    let outer = first.shape[..<axis].reduce(1, *)
    let inner = first.shape[(axis + 1)...].reduce(1, *)
    let rowLength = shape[axis] * inner
    var offset = 0
    for t in tensors {
        let length = t.shape[axis] * inner
        for o in 0..<outer {
            (result.data + o * rowLength + offset).update(from: t.data + o * length, count: length)
        }
        offset += length
    }
    return result
}

extension Tensor {
    /// Elements `range` along `axis` (a copy).
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = axis < 0 ? axis + rank : axis
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis], "slice \(range) out of \(shape) on axis \(axis)")
        var newShape = shape
        newShape[axis] = range.count
        let result = Tensor(uninitializedShape: newShape)
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let length = range.count * inner
        for o in 0..<outer {
            (result.data + o * length).update(from: data + (o * shape[axis] + range.lowerBound) * inner, count: length)
        }
        return result
    }

    /// Splits along `axis` into `parts` equal chunks (PyTorch `chunk` with an even split).
    public func chunked(_ parts: Int, axis: Int) -> [Tensor] {
        let size = dim(axis)
        precondition(size % parts == 0, "cannot split \(shape) axis \(axis) into \(parts)")
        let step = size / parts
        return (0..<parts).map { slice(axis: axis, ($0 * step)..<(($0 + 1) * step)) }
    }

    /// Reorders dimensions: result.shape[i] = shape[order[i]].
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "bad permutation \(order) for rank \(rank)")
        let newShape = order.map { shape[$0] }
        let result = Tensor(uninitializedShape: newShape)
        var sourceStrides = Array(repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { sourceStrides[axis] = sourceStrides[axis + 1] * shape[axis + 1] }
        let strides = order.map { sourceStrides[$0] }
        let inner = newShape.last ?? 1
        let innerStride = strides.last ?? 1
        let outerCount = count / max(inner, 1)
        let (source, target) = (data, result.data)
        Parallel.forEachChunk(outerCount, minimumChunk: 64) { range in
            for outer in range {
                var remainder = outer, offset = 0
                for axis in stride(from: rank - 2, through: 0, by: -1) {
                    offset += (remainder % newShape[axis]) * strides[axis]
                    remainder /= newShape[axis]
                }
                let out = target + outer * inner
                for j in 0..<inner { out[j] = source[offset + j * innerStride] }
            }
        }
        return result
    }

    /// Mean over `axes` (kept as size-1 dimensions when `keepDimensions`).
    public func mean(axes: [Int], keepDimensions: Bool = false) -> Tensor {
        reduce(axes: axes, keepDimensions: keepDimensions) { values, n in
            var sum: Double = 0
            for i in 0..<n { sum += Double(values(i)) }
            return Float(sum / Double(n))
        }
    }

    /// Variance over `axes`; `unbiased` divides by n-1 like PyTorch's default `var`.
    public func variance(axes: [Int], unbiased: Bool = true, keepDimensions: Bool = false) -> Tensor {
        reduce(axes: axes, keepDimensions: keepDimensions) { values, n in
            var sum: Double = 0
            for i in 0..<n { sum += Double(values(i)) }
            let mean = sum / Double(n)
            var squares: Double = 0
            for i in 0..<n { let d = Double(values(i)) - mean; squares += d * d }
            return Float(squares / Double(unbiased ? max(n - 1, 1) : n))
        }
    }

    private func reduce(axes: [Int], keepDimensions: Bool,
                        _ combine: ((Int) -> Float, Int) -> Float) -> Tensor {
        let axes = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
        let kept = (0..<rank).filter { !axes.contains($0) }
        let moved = permuted(kept + axes.sorted())
        let n = axes.reduce(1) { $0 * shape[$1] }
        let outer = count / max(n, 1)
        let result = Tensor(uninitializedShape: [outer])
        for o in 0..<outer {
            let base = moved.data + o * n
            result.data[o] = combine({ base[$0] }, n)
        }
        let resultShape = keepDimensions ? (0..<rank).map { axes.contains($0) ? 1 : shape[$0] } : kept.map { shape[$0] }
        return result.reshaped(resultShape)
    }
}
