// Shape manipulation: concatenation, slicing, permutation, padding and row gathers. All return new
// tensors (only `reshaped` shares storage).

import BackendInterface

/// Row-major element strides of `shape`.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var step = 1
    for axis in shape.indices.reversed() {
        strides[axis] = step
        step *= shape[axis]
    }
    return strides
}

/// Concatenates tensors along `axis` (all other dimensions equal).
public func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat of nothing")
    // Mixed element types (a float32 latent from a file next to float16 activations) meet in the
    // device's activation type, as the operands of every other operation do.
    let tensors = Set(tensors.map(\.elementType)).count > 1 ? tensors.map(\.operand) : tensors
    let first = tensors[0]
    let axis = axis < 0 ? axis + first.rank : axis
    for t in tensors {
        precondition(t.rank == first.rank && (0..<first.rank).allSatisfy { $0 == axis || t.shape[$0] == first.shape[$0] },
                     "concat: \(t.shape) does not match \(first.shape) outside axis \(axis)")
        first.requireSameDevice(t, operation: "concat")
        precondition(t.elementType == first.elementType, "concat: \(t.elementType) and \(first.elementType) tensors")
    }
    var shape = first.shape
    shape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
    let result = Tensor(uninitializedShape: shape, elementType: first.elementType, on: first.device)
    let outputStrides = contiguousStrides(shape)
    var offset = 0
    for t in tensors where t.count > 0 {
        first.backend.copy(t.buffer, into: result.buffer,
                           StridedCopy(shape: t.shape, sourceOffset: 0, sourceStrides: contiguousStrides(t.shape),
                                       outputOffset: offset * outputStrides[axis], outputStrides: outputStrides))
        offset += t.shape[axis]
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
        let result = Tensor(uninitializedShape: newShape, elementType: elementType, on: device)
        let strides = contiguousStrides(shape)
        backend.copy(buffer, into: result.buffer,
                     StridedCopy(shape: newShape, sourceOffset: range.lowerBound * strides[axis], sourceStrides: strides,
                                 outputOffset: 0, outputStrides: contiguousStrides(newShape)))
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
        let result = Tensor(uninitializedShape: newShape, elementType: elementType, on: device)
        let sourceStrides = contiguousStrides(shape)
        backend.copy(buffer, into: result.buffer,
                     StridedCopy(shape: newShape, sourceOffset: 0, sourceStrides: order.map { sourceStrides[$0] },
                                 outputOffset: 0, outputStrides: contiguousStrides(newShape)))
        return result
    }

    /// Pads the last two dimensions (PyTorch `F.pad(x, (left, right, top, bottom), mode)` on NCHW).
    public func padded(top: Int = 0, bottom: Int = 0, left: Int = 0, right: Int = 0, mode: PadMode = .zeros) -> Tensor {
        precondition(rank >= 2 && [top, bottom, left, right].allSatisfy { $0 >= 0 }, "pad \(shape) by (\(top), \(bottom), \(left), \(right))")
        let (height, width) = (dim(-2), dim(-1))
        precondition(mode == .zeros || height * width > 0, "replicate padding of an empty plane \(shape)")
        let parameters = PadParameters(planes: count / max(height * width, 1), height: height, width: width,
                                       top: top, bottom: bottom, left: left, right: right, mode: mode)
        let source = operand
        let result = Tensor(uninitializedShape: Array(shape.dropLast(2)) + [parameters.outHeight, parameters.outWidth], on: device)
        backend.pad(source.buffer, into: result.buffer, parameters)
        return result
    }
}

/// Rows of a [rows, width] table, in the order of `indices` (an embedding lookup): [indices.count, width].
public func embedding(_ table: Tensor, indices: [Int]) -> Tensor {
    precondition(table.rank == 2, "embedding table must be [rows, width], got \(table.shape)")
    for index in indices {
        precondition(index >= 0 && index < table.shape[0], "embedding index \(index) outside 0..<\(table.shape[0])")
    }
    let source = table.operand
    let result = Tensor(uninitializedShape: [indices.count, table.shape[1]], on: table.device)
    table.backend.gatherRows(source.buffer, into: result.buffer,
                             GatherParameters(indices: indices, tableRows: table.shape[0], width: table.shape[1]))
    return result
}

extension Tensor {
    /// The `height` x `width` window at (`row`, `column`) of the last two dimensions (a copy).
    public func window(row: Int, column: Int, height: Int, width: Int) -> Tensor {
        precondition(rank >= 2 && row >= 0 && column >= 0 && height >= 0 && width >= 0
                     && row + height <= dim(-2) && column + width <= dim(-1),
                     "window (\(row), \(column)) \(height)x\(width) outside \(shape)")
        let newShape = Array(shape.dropLast(2)) + [height, width]
        let result = Tensor(uninitializedShape: newShape, elementType: elementType, on: device)
        guard result.count > 0 else { return result }
        let strides = contiguousStrides(shape)
        backend.copy(buffer, into: result.buffer,
                     StridedCopy(shape: newShape, sourceOffset: row * strides[rank - 2] + column, sourceStrides: strides,
                                 outputOffset: 0, outputStrides: contiguousStrides(newShape)))
        return result
    }

    /// In place: the window of `tile`'s size at (`row`, `column`) of the last two dimensions takes
    /// `tile`'s values (the leading dimensions must be equal).
    public mutating func replaceWindow(row: Int, column: Int, with tile: Tensor) {
        requireSameDevice(tile, operation: "replaceWindow")
        precondition(tile.rank == rank && tile.shape.dropLast(2) == shape.dropLast(2) && row >= 0 && column >= 0
                     && row + tile.dim(-2) <= dim(-2) && column + tile.dim(-1) <= dim(-1),
                     "window \(tile.shape) at (\(row), \(column)) outside \(shape)")
        makeUnique()
        guard tile.count > 0 else { return }
        let source = tile.converted(to: elementType)
        let strides = contiguousStrides(shape)
        backend.copy(source.buffer, into: buffer,
                     StridedCopy(shape: tile.shape, sourceOffset: 0, sourceStrides: contiguousStrides(tile.shape),
                                 outputOffset: row * strides[rank - 2] + column, outputStrides: strides))
    }
}
