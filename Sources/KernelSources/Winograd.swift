// Winograd F(2x2, 3x3) transforms for 3x3, stride-1, padding-1 convolutions (Lavin & Gray, 2015).
// Every 2x2 output tile is Aᵀ [U ⊙ V] A with U = G g Gᵀ (the 3x3 kernel) and V = Bᵀ d B (the 4x4
// input tile around it): 16 multiplications per tile and channel pair instead of 36. Summed over input
// channels, the 16 element-wise products are 16 GEMMs, which TensorEngine runs on the packed GEMM;
// this file holds the three transforms.
//
// Layouts: U is [16][outChannels][inChannels]. A band of `tileRows` rows of `tilesX` tiles is
// V [16][inChannels][bandTiles] and the GEMM result M [16][outChannels][bandTiles], where ξ = 4·i + j
// indexes the 4x4 tile (row i, column j) and bandTiles = tileRows · tilesX. Both transforms of the
// tiles work on 16 neighbouring tiles at a time in SIMD16 lanes.

/// U = G g Gᵀ for `outChannels` of `weights` [outChannelCount][inChannels][3][3], with
/// G = [[1, 0, 0], [½, ½, ½], [½, -½, ½], [0, 0, 1]]; 16 input channels at a time, so that every
/// store is a contiguous run of U.
public func kernelWinogradWeightTransform(weights: UnsafePointer<Float>, outChannels: Range<Int>, outChannelCount: Int,
                                          inChannels: Int, into transformed: UnsafeMutablePointer<Float>) {
    typealias V = SIMD16<Float>
    let plane = outChannelCount * inChannels
    for output in outChannels {
        var input = 0
        while input < inChannels {
            let count = min(16, inChannels - input)
            let kernels = weights + (output * inChannels + input) * 9
            func tap(_ index: Int) -> V {
                var value = V()
                for lane in 0..<count { value[lane] = kernels[lane * 9 + index] }
                return value
            }
            let target = transformed + output * inChannels + input
            // Row r of G g, then the same combination along it: U[r][0...3].
            func storeRow(_ r: Int, _ u0: V, _ u1: V, _ u2: V) {
                storePrefix(u0, target + (4 * r) * plane, count: count)
                storePrefix((u0 + u1 + u2) * 0.5, target + (4 * r + 1) * plane, count: count)
                storePrefix((u0 - u1 + u2) * 0.5, target + (4 * r + 2) * plane, count: count)
                storePrefix(u2, target + (4 * r + 3) * plane, count: count)
            }
            let g = (tap(0), tap(1), tap(2), tap(3), tap(4), tap(5), tap(6), tap(7), tap(8))
            storeRow(0, g.0, g.1, g.2)
            storeRow(1, (g.0 + g.3 + g.6) * 0.5, (g.1 + g.4 + g.7) * 0.5, (g.2 + g.5 + g.8) * 0.5)
            storeRow(2, (g.0 - g.3 + g.6) * 0.5, (g.1 - g.4 + g.7) * 0.5, (g.2 - g.5 + g.8) * 0.5)
            storeRow(3, g.6, g.7, g.8)
            input += 16
        }
    }
}

/// Floats of scratch `kernelWinogradInputTransform` needs for rows of `tilesX` tiles.
public func winogradInputScratchCount(tilesX: Int) -> Int { 8 * (tilesX + 32) }

/// V = Bᵀ d B, Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], for tile rows
/// `firstTileRow..<firstTileRow + tileRows` of `channels` of one image [inChannels][height][width]
/// (zeros outside it: padding 1). Tile (ty, tx) covers input rows 2ty-1...2ty+2, columns 2tx-1...2tx+2.
public func kernelWinogradInputTransform(input: UnsafePointer<Float>, height: Int, width: Int,
                                         channels: Range<Int>, inChannels: Int,
                                         firstTileRow: Int, tileRows: Int, tilesX: Int,
                                         into transformed: UnsafeMutablePointer<Float>,
                                         scratch: UnsafeMutablePointer<Float>) {
    typealias V = SIMD16<Float>
    let bandTiles = tileRows * tilesX
    let plane = inChannels * bandTiles
    // Each input row is split into even and odd columns shifted by the padding: even[k] = x(2k - 1),
    // odd[k] = x(2k), so tile tx reads even[tx], odd[tx], even[tx + 1], odd[tx + 1]: all contiguous.
    // Four rows are kept in a ring; consecutive tile rows share two of them.
    let rowLength = tilesX + 32
    func evenColumns(_ slot: Int) -> UnsafeMutablePointer<Float> { scratch + (2 * slot) * rowLength }
    func oddColumns(_ slot: Int) -> UnsafeMutablePointer<Float> { scratch + (2 * slot + 1) * rowLength }
    scratch.update(repeating: 0, count: 8 * rowLength)

    for channel in channels {
        let image = input + channel * height * width
        func splitRow(_ y: Int, into slot: Int) {
            let even = evenColumns(slot), odd = oddColumns(slot)
            guard y >= 0 && y < height else {
                even.update(repeating: 0, count: tilesX + 1)
                odd.update(repeating: 0, count: tilesX + 1)
                return
            }
            let row = image + y * width
            even[0] = 0
            for k in 0..<tilesX {
                odd[k] = row[2 * k]
                even[k + 1] = 2 * k + 1 < width ? row[2 * k + 1] : 0
            }
            odd[tilesX] = 0
        }
        let firstY = 2 * firstTileRow - 1
        splitRow(firstY, into: 0)
        splitRow(firstY + 1, into: 1)
        for localRow in 0..<tileRows {
            let y0 = firstY + 2 * localRow
            splitRow(y0 + 2, into: (2 * localRow + 2) % 4)
            splitRow(y0 + 3, into: (2 * localRow + 3) % 4)
            let first = 2 * localRow
            let even0 = evenColumns(first % 4), odd0 = oddColumns(first % 4)
            let even1 = evenColumns((first + 1) % 4), odd1 = oddColumns((first + 1) % 4)
            let even2 = evenColumns((first + 2) % 4), odd2 = oddColumns((first + 2) % 4)
            let even3 = evenColumns((first + 3) % 4), odd3 = oddColumns((first + 3) % 4)
            let target = transformed + channel * bandTiles + localRow * tilesX
            var tx = 0
            while tx < tilesX {
                let count = min(16, tilesX - tx)
                // d B along each of the four rows: (a - c, b + c, c - b, b - d) for columns a b c d.
                func alongRow(_ even: UnsafeMutablePointer<Float>, _ odd: UnsafeMutablePointer<Float>) -> (V, V, V, V) {
                    let a = load(even + tx, as: V.self), b = load(odd + tx, as: V.self)
                    let c = load(even + tx + 1, as: V.self), d = load(odd + tx + 1, as: V.self)
                    return (a - c, b + c, c - b, b - d)
                }
                let r0 = alongRow(even0, odd0), r1 = alongRow(even1, odd1)
                let r2 = alongRow(even2, odd2), r3 = alongRow(even3, odd3)
                // Bᵀ (d B) down the columns.
                func storeColumn(_ j: Int, _ x0: V, _ x1: V, _ x2: V, _ x3: V) {
                    storePrefix(x0 - x2, target + j * plane + tx, count: count)
                    storePrefix(x1 + x2, target + (4 + j) * plane + tx, count: count)
                    storePrefix(x2 - x1, target + (8 + j) * plane + tx, count: count)
                    storePrefix(x1 - x3, target + (12 + j) * plane + tx, count: count)
                }
                storeColumn(0, r0.0, r1.0, r2.0, r3.0)
                storeColumn(1, r0.1, r1.1, r2.1, r3.1)
                storeColumn(2, r0.2, r1.2, r2.2, r3.2)
                storeColumn(3, r0.3, r1.3, r2.3, r3.3)
                tx += 16
            }
        }
    }
}

/// Y = Aᵀ M A + bias, Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]], for `channels` of a band (see
/// `kernelWinogradInputTransform`), written into one image [outChannels][height][width]; tiles that
/// overhang an odd height or width drop their last row or column. `products` must stay readable
/// 16 floats past its end.
public func kernelWinogradOutputTransform(products: UnsafePointer<Float>, channels: Range<Int>, outChannels: Int,
                                          firstTileRow: Int, tileRows: Int, tilesX: Int, bias: UnsafePointer<Float>?,
                                          output: UnsafeMutablePointer<Float>, height: Int, width: Int) {
    typealias V = SIMD16<Float>
    let bandTiles = tileRows * tilesX
    let plane = outChannels * bandTiles
    for channel in channels {
        let offset = V(repeating: bias?[channel] ?? 0)
        let image = output + channel * height * width
        for localRow in 0..<tileRows {
            let y = 2 * (firstTileRow + localRow)
            let top = image + y * width
            let bottom: UnsafeMutablePointer<Float>? = y + 1 < height ? top + width : nil
            let source = products + channel * bandTiles + localRow * tilesX
            var tx = 0
            while tx < tilesX {
                func m(_ xi: Int) -> V { load(source + xi * plane + tx, as: V.self) }
                // Aᵀ M: two rows of four; then (·) A along each.
                let s0 = (m(0) + m(4) + m(8), m(1) + m(5) + m(9), m(2) + m(6) + m(10), m(3) + m(7) + m(11))
                let s1 = (m(4) - m(8) - m(12), m(5) - m(9) - m(13), m(6) - m(10) - m(14), m(7) - m(11) - m(15))
                let y00 = s0.0 + s0.1 + s0.2 + offset, y01 = s0.1 - s0.2 - s0.3 + offset
                let y10 = s1.0 + s1.1 + s1.2 + offset, y11 = s1.1 - s1.2 - s1.3 + offset
                let count = min(16, tilesX - tx)
                storeInterleaved(y00, y01, into: top + 2 * tx, tiles: count, columns: width - 2 * tx)
                if let bottom {
                    storeInterleaved(y10, y11, into: bottom + 2 * tx, tiles: count, columns: width - 2 * tx)
                }
                tx += 16
            }
        }
    }
}

/// Stores the first `count` lanes of `value`.
@inline(__always)
func storePrefix(_ value: SIMD16<Float>, _ target: UnsafeMutablePointer<Float>, count: Int) {
    if count == 16 {
        store(value, target)
    } else {
        for lane in 0..<count { target[lane] = value[lane] }
    }
}

/// Writes even[t], odd[t] to columns 2t, 2t + 1 for `tiles` tiles, at most `columns` values.
@inline(__always)
func storeInterleaved(_ even: SIMD16<Float>, _ odd: SIMD16<Float>, into target: UnsafeMutablePointer<Float>,
                      tiles: Int, columns: Int) {
    if tiles == 16 && columns >= 32 {
        for lane in 0..<16 {
            target[2 * lane] = even[lane]
            target[2 * lane + 1] = odd[lane]
        }
        return
    }
    for lane in 0..<tiles {
        if 2 * lane < columns { target[2 * lane] = even[lane] }
        if 2 * lane + 1 < columns { target[2 * lane + 1] = odd[lane] }
    }
}
