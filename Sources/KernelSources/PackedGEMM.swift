// Cache-blocked, packed single-threaded GEMM (the GotoBLAS / BLIS loop nest) over the micro-kernels
// in MicroKernel.swift. The caller (TensorEngine) splits C between threads and hands every thread its
// own workspace, so nothing here allocates or synchronises.

/// Source of the packed B block: either a strided matrix or the implicit im2col matrix of a convolution.
protocol PanelSourceB {
    /// Packs rows `firstRow..<firstRow+depth` and columns `firstColumn..<firstColumn+width` into panels
    /// of `panelWidth` columns (`depth x panelWidth` each, column index fastest), zero-padding the last.
    func pack(firstRow: Int, depth: Int, firstColumn: Int, width: Int, panelWidth: Int,
              into target: UnsafeMutablePointer<Float>)
}

struct StridedMatrixB: PanelSourceB {
    let base: UnsafePointer<Float>
    let rowStride: Int
    let columnStride: Int

    func pack(firstRow: Int, depth: Int, firstColumn: Int, width: Int, panelWidth: Int,
              into target: UnsafeMutablePointer<Float>) {
        var panelStart = 0
        while panelStart < width {
            let columns = min(panelWidth, width - panelStart)
            let panel = target + panelStart * depth
            let source = base + firstRow * rowStride + (firstColumn + panelStart) * columnStride
            if columnStride == 1 {
                for p in 0..<depth {
                    copyPadded(panel + p * panelWidth, source + p * rowStride, count: columns, width: panelWidth)
                }
            } else {
                for j in 0..<columns {
                    let column = source + j * columnStride
                    for p in 0..<depth { panel[p * panelWidth + j] = column[p * rowStride] }
                }
                if columns < panelWidth {
                    for p in 0..<depth { (panel + p * panelWidth + columns).update(repeating: 0, count: panelWidth - columns) }
                }
            }
            panelStart += panelWidth
        }
    }
}

/// The im2col matrix of a zero-padded 2-D convolution, read straight from the input image: row
/// `channel * kh * kw + ky * kw + kx`, column = output pixel `oy * outWidth + ox`. Packing from the
/// image avoids materialising im2col (2 GB for 64 channels of 720p with a 3x3 kernel).
struct ImplicitIm2colB: PanelSourceB {
    let input: UnsafePointer<Float>
    let height: Int, width: Int
    let kernelHeight: Int, kernelWidth: Int
    let strideY: Int, strideX: Int
    let padY: Int, padX: Int
    let outWidth: Int

    func pack(firstRow: Int, depth: Int, firstColumn: Int, width columnCount: Int, panelWidth: Int,
              into target: UnsafeMutablePointer<Float>) {
        var panelStart = 0
        while panelStart < columnCount {
            let columns = min(panelWidth, columnCount - panelStart)
            let panel = target + panelStart * depth
            // A panel's pixels may wrap onto following output rows: fill it one row segment at a time.
            var filled = 0
            let pixel = firstColumn + panelStart
            var outY = pixel / outWidth, outX = pixel % outWidth
            while filled < columns {
                let length = min(columns - filled, outWidth - outX)
                packSegment(panel + filled, outY: outY, outX: outX, length: length,
                            firstRow: firstRow, depth: depth, panelWidth: panelWidth)
                filled += length
                outX = 0
                outY += 1
            }
            if columns < panelWidth {
                for p in 0..<depth { (panel + p * panelWidth + columns).update(repeating: 0, count: panelWidth - columns) }
            }
            panelStart += panelWidth
        }
    }

    @inline(__always)
    private func packSegment(_ target: UnsafeMutablePointer<Float>, outY: Int, outX: Int, length: Int,
                             firstRow: Int, depth: Int, panelWidth: Int) {
        let taps = kernelHeight * kernelWidth
        var channel = firstRow / taps
        var ky = (firstRow % taps) / kernelWidth, kx = firstRow % kernelWidth
        let baseY = outY * strideY - padY, baseX = outX * strideX - padX
        let plane = height * width
        for p in 0..<depth {
            let out = target + p * panelWidth
            let inY = baseY + ky
            if inY < 0 || inY >= height {
                out.update(repeating: 0, count: length)
            } else {
                let row = input + channel * plane + inY * width
                let firstX = baseX + kx
                if strideX == 1 {
                    let low = min(max(0, -firstX), length)
                    let high = max(low, min(length, width - firstX))
                    if low > 0 { out.update(repeating: 0, count: low) }
                    copyPadded(out + low, row + firstX + low, count: high - low, width: high - low)
                    if high < length { (out + high).update(repeating: 0, count: length - high) }
                } else {
                    for t in 0..<length {
                        let x = firstX + t * strideX
                        out[t] = (x >= 0 && x < width) ? row[x] : 0
                    }
                }
            }
            kx += 1
            if kx == kernelWidth {
                kx = 0
                ky += 1
                if ky == kernelHeight {
                    ky = 0
                    channel += 1
                }
            }
        }
    }
}

/// Copies `count` floats and zero-fills up to `width` (short copies: no memmove call overhead).
@inline(__always)
func copyPadded(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int, width: Int) {
    var index = 0
    while index + 16 <= count {
        store(load(source + index, as: SIMD16<Float>.self), target + index)
        index += 16
    }
    while index + 4 <= count {
        store(load(source + index, as: SIMD4<Float>.self), target + index)
        index += 4
    }
    while index < count {
        target[index] = source[index]
        index += 1
    }
    while index < width {
        target[index] = 0
        index += 1
    }
}

/// Packs an `rows x depth` block of A into panels of `panelHeight` rows (`depth x panelHeight` each),
/// writing each panel sequentially (the reads stride over `panelHeight` rows instead).
@inline(__always)
func packA(_ a: UnsafePointer<Float>, rowStride: Int, columnStride: Int, rows: Int, depth: Int, panelHeight: Int,
           into target: UnsafeMutablePointer<Float>) {
    var panelStart = 0
    while panelStart < rows {
        let height = min(panelHeight, rows - panelStart)
        var out = target + panelStart * depth
        let first = a + panelStart * rowStride
        if height == panelHeight {
            for p in 0..<depth {
                let column = first + p * columnStride
                for i in 0..<panelHeight { out[i] = column[i * rowStride] }
                out += panelHeight
            }
        } else {
            for p in 0..<depth {
                let column = first + p * columnStride
                for i in 0..<height { out[i] = column[i * rowStride] }
                for i in height..<panelHeight { out[i] = 0 }
                out += panelHeight
            }
        }
        panelStart += panelHeight
    }
}

/// Floats of workspace `blockedGEMM` needs for kernel `K`: packed A block, packed B block, edge tile.
func workspaceCount<K: MicroKernel>(_: K.Type) -> Int {
    K.rowBlock * K.depthBlock + K.depthBlock * K.columnBlock + K.rows * K.columns + 64
}

/// C[m x n] = alpha * A[m x k] · B[k x n] + beta * C (+ rowBias[i]), single-threaded.
@inline(__always)
func blockedGEMM<K: MicroKernel, B: PanelSourceB>(
    _: K.Type, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int, b: B,
    beta: Float, rowBias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int,
    workspace: UnsafeMutablePointer<Float>
) {
    let packedA = workspace
    let packedB = workspace + K.rowBlock * K.depthBlock
    let edgeTile = packedB + K.depthBlock * K.columnBlock
    // Equal depth blocks (576 = 2 x 288, not 512 + 64): a thin last block would cost a full extra pass
    // over C for little work.
    let depthBlocks = (k + K.depthBlock - 1) / K.depthBlock
    let depthBlock = (k + depthBlocks - 1) / depthBlocks
    var columnStart = 0
    while columnStart < n {
        let columnCount = min(K.columnBlock, n - columnStart)
        var depthStart = 0
        repeat {
            let depth = min(depthBlock, k - depthStart)
            // Later depth blocks accumulate onto the first one's result.
            let blockBeta = depthStart == 0 ? beta : 1
            let blockBias = depthStart == 0 ? rowBias : nil
            b.pack(firstRow: depthStart, depth: depth, firstColumn: columnStart, width: columnCount,
                   panelWidth: K.columns, into: packedB)
            var rowStart = 0
            while rowStart < m {
                let rowCount = min(K.rowBlock, m - rowStart)
                packA(a + rowStart * aRowStride + depthStart * aColumnStride, rowStride: aRowStride,
                      columnStride: aColumnStride, rows: rowCount, depth: depth, panelHeight: K.rows, into: packedA)
                var tileColumn = 0
                while tileColumn < columnCount {
                    let tileWidth = min(K.columns, columnCount - tileColumn)
                    let bPanel = packedB + tileColumn * depth
                    var tileRow = 0
                    while tileRow < rowCount {
                        let tileHeight = min(K.rows, rowCount - tileRow)
                        let aPanel = packedA + tileRow * depth
                        let row = rowStart + tileRow
                        let tile = c + row * ldc + columnStart + tileColumn
                        let bias = blockBias.map { $0 + row }
                        if tileHeight == K.rows && tileWidth == K.columns {
                            K.multiply(depth: depth, a: aPanel, b: bPanel, alpha: alpha, beta: blockBeta,
                                       rowBias: bias, c: tile, ldc: ldc)
                        } else {
                            K.multiply(depth: depth, a: aPanel, b: bPanel, alpha: alpha, beta: 0,
                                       rowBias: bias, c: edgeTile, ldc: K.columns)
                            for i in 0..<tileHeight {
                                for j in 0..<tileWidth {
                                    let value = edgeTile[i * K.columns + j]
                                    let target = tile + i * ldc + j
                                    target.pointee = blockBeta == 0 ? value : value + blockBeta * target.pointee
                                }
                            }
                        }
                        tileRow += K.rows
                    }
                    tileColumn += K.columns
                }
                rowStart += rowCount
            }
            depthStart += depth
        } while depthStart < k
        columnStart += columnCount
    }
}

/// Workspace floats `kernelGEMM` / `kernelConvolutionGEMM` need for a given `vectorWidth`.
public func kernelWorkspaceCount(vectorWidth: Int) -> Int {
    vectorWidth >= 16 ? workspaceCount(Wide8x32.self) : workspaceCount(Narrow6x16.self)
}

/// Single-threaded C = alpha * A·B + beta * C (+ rowBias[i]) with A(i, p) = a[i*aRowStride + p*aColumnStride]
/// and B(p, j) = b[p*bRowStride + j*bColumnStride]. `vectorWidth` 16 picks the SIMD16 (AVX-512)
/// micro-kernel, 8 the SIMD8 one. k must be > 0; beta == 0 never reads C.
public func kernelGEMM(
    vectorWidth: Int, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int,
    b: UnsafePointer<Float>, bRowStride: Int, bColumnStride: Int,
    beta: Float, rowBias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int,
    workspace: UnsafeMutablePointer<Float>
) {
    let source = StridedMatrixB(base: b, rowStride: bRowStride, columnStride: bColumnStride)
    if vectorWidth >= 16 {
        blockedGEMM(Wide8x32.self, m: m, n: n, k: k, alpha: alpha, a: a, aRowStride: aRowStride,
                    aColumnStride: aColumnStride, b: source, beta: beta, rowBias: rowBias, c: c, ldc: ldc,
                    workspace: workspace)
    } else {
        blockedGEMM(Narrow6x16.self, m: m, n: n, k: k, alpha: alpha, a: a, aRowStride: aRowStride,
                    aColumnStride: aColumnStride, b: source, beta: beta, rowBias: rowBias, c: c, ldc: ldc,
                    workspace: workspace)
    }
}

/// Single-threaded implicit-GEMM convolution of one image: output pixels `firstPixel..<firstPixel+n`
/// of `m` output channels. `weights` is [m, k] row-major with k = channels * kernelHeight * kernelWidth;
/// `c` points at the output of pixel `firstPixel` of channel 0, rows `ldc` apart.
public func kernelConvolutionGEMM(
    vectorWidth: Int, m: Int, n: Int, k: Int,
    weights: UnsafePointer<Float>, input: UnsafePointer<Float>, height: Int, width: Int,
    kernelHeight: Int, kernelWidth: Int, strideY: Int, strideX: Int, padY: Int, padX: Int, outWidth: Int,
    firstPixel: Int, rowBias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int,
    workspace: UnsafeMutablePointer<Float>
) {
    let source = ImplicitIm2colB(input: input, height: height, width: width, kernelHeight: kernelHeight,
                                 kernelWidth: kernelWidth, strideY: strideY, strideX: strideX,
                                 padY: padY, padX: padX, outWidth: outWidth)
    // The packers index B columns from 0 at `c`; shift the image's pixel numbering accordingly.
    let shifted = ShiftedColumnsB(source: source, offset: firstPixel)
    if vectorWidth >= 16 {
        blockedGEMM(Wide8x32.self, m: m, n: n, k: k, alpha: 1, a: weights, aRowStride: k, aColumnStride: 1,
                    b: shifted, beta: 0, rowBias: rowBias, c: c, ldc: ldc, workspace: workspace)
    } else {
        blockedGEMM(Narrow6x16.self, m: m, n: n, k: k, alpha: 1, a: weights, aRowStride: k, aColumnStride: 1,
                    b: shifted, beta: 0, rowBias: rowBias, c: c, ldc: ldc, workspace: workspace)
    }
}

struct ShiftedColumnsB<Source: PanelSourceB>: PanelSourceB {
    let source: Source
    let offset: Int

    @inline(__always)
    func pack(firstRow: Int, depth: Int, firstColumn: Int, width: Int, panelWidth: Int,
              into target: UnsafeMutablePointer<Float>) {
        source.pack(firstRow: firstRow, depth: depth, firstColumn: firstColumn + offset, width: width,
                    panelWidth: panelWidth, into: target)
    }
}
