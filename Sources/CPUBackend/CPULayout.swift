import BackendInterface

extension CPUBackend {
    public func fill(_ output: BackendBuffer, value: Float) {
        let target = floats(output)
        pool.forEachChunk(output.count, minimumChunk: 1 << 16) { range in
            (target + range.lowerBound).update(repeating: value, count: range.count)
        }
    }

    public func copy(_ source: BackendBuffer, into output: BackendBuffer, _ layout: StridedCopy) {
        let (from, to) = (cpu(source), cpu(output))
        precondition(from.elementType == to.elementType, "CPUBackend.copy: \(from.elementType) into \(to.elementType)")
        let byteSize = from.elementType.byteSize
        let (sourceBase, targetBase) = (from.raw + layout.sourceOffset * byteSize, to.raw + layout.outputOffset * byteSize)
        let shape = layout.shape, rank = shape.count
        guard layout.count > 0 else { return }
        guard rank > 0 else {
            targetBase.copyMemory(from: sourceBase, byteCount: byteSize)
            return
        }
        let inner = shape[rank - 1]
        let (innerSource, innerTarget) = (layout.sourceStrides[rank - 1], layout.outputStrides[rank - 1])
        let outerCount = layout.count / inner
        pool.forEachChunk(outerCount, minimumChunk: max(1, 4096 / inner)) { range in
            for outer in range {
                var remainder = outer, sourceOffset = 0, targetOffset = 0
                for axis in stride(from: rank - 2, through: 0, by: -1) {
                    let index = remainder % shape[axis]
                    remainder /= shape[axis]
                    sourceOffset += index * layout.sourceStrides[axis]
                    targetOffset += index * layout.outputStrides[axis]
                }
                let (s, t) = (sourceBase + sourceOffset * byteSize, targetBase + targetOffset * byteSize)
                if innerSource == 1 && innerTarget == 1 {
                    t.copyMemory(from: s, byteCount: inner * byteSize)
                } else if byteSize == 4 {
                    let (sf, tf) = (s.assumingMemoryBound(to: Float.self), t.assumingMemoryBound(to: Float.self))
                    for j in 0..<inner { tf[j * innerTarget] = sf[j * innerSource] }
                } else {
                    let (sh, th) = (s.assumingMemoryBound(to: UInt16.self), t.assumingMemoryBound(to: UInt16.self))
                    for j in 0..<inner { th[j * innerTarget] = sh[j * innerSource] }
                }
            }
        }
    }

    public func convert(_ source: BackendBuffer, into output: BackendBuffer) {
        let (from, to) = (cpu(source), cpu(output))
        let count = from.count
        switch (from.elementType, to.elementType) {
        case let (a, b) where a == b:
            to.raw.copyMemory(from: from.raw, byteCount: count * a.byteSize)
        case (.float32, let reduced):
            let (s, t) = (from.raw.assumingMemoryBound(to: Float.self), to.raw.assumingMemoryBound(to: UInt16.self))
            let convert = reduced == .float16 ? halfBits(from:) : bfloat16Bits(from:)
            pool.forEachChunk(count, minimumChunk: 1 << 16) { range in
                for i in range { t[i] = convert(s[i]) }
            }
        case (let reduced, .float32):
            let (s, t) = (from.raw.assumingMemoryBound(to: UInt16.self), to.raw.assumingMemoryBound(to: Float.self))
            let widen = reduced == .float16 ? kernels.halfToFloat : kernels.bfloat16ToFloat
            pool.forEachChunk(count, minimumChunk: 1 << 16) { range in
                widen(s + range.lowerBound, t + range.lowerBound, range.count)
            }
        case (let source, let target):
            let (s, t) = (from.raw.assumingMemoryBound(to: UInt16.self), to.raw.assumingMemoryBound(to: UInt16.self))
            let widen = source == .float16 ? floatFromHalfBits : floatFromBFloat16Bits
            let narrow = target == .float16 ? halfBits(from:) : bfloat16Bits(from:)
            pool.forEachChunk(count, minimumChunk: 1 << 16) { range in
                for i in range { t[i] = narrow(widen(s[i])) }
            }
        }
    }

    public func pad(_ input: BackendBuffer, into output: BackendBuffer, _ p: PadParameters) {
        let (source, target) = (floats(input), floats(output))
        let (outHeight, outWidth) = (p.outHeight, p.outWidth)
        pool.forEach(p.planes * outHeight, minimumChunk: 16) { job in
            let (plane, oy) = (job / outHeight, job % outHeight)
            let row = target + job * outWidth
            let y = oy - p.top
            switch p.mode {
            case .zeros:
                guard y >= 0 && y < p.height else {
                    row.update(repeating: 0, count: outWidth)
                    return
                }
                let sourceRow = source + (plane * p.height + y) * p.width
                row.update(repeating: 0, count: p.left)
                (row + p.left).update(from: sourceRow, count: p.width)
                (row + p.left + p.width).update(repeating: 0, count: p.right)
            case .replicate:
                let sourceRow = source + (plane * p.height + min(max(y, 0), p.height - 1)) * p.width
                for ox in 0..<outWidth { row[ox] = sourceRow[min(max(ox - p.left, 0), p.width - 1)] }
            }
        }
    }

    public func gatherRows(_ table: BackendBuffer, into output: BackendBuffer, _ p: GatherParameters) {
        let (source, target) = (floats(table), floats(output))
        for (row, index) in p.indices.enumerated() {
            (target + row * p.width).update(from: source + index * p.width, count: p.width)
        }
    }
}
