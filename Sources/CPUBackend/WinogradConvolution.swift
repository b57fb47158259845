import BackendInterface

/// 3x3, stride-1, padding-1 convolution by Winograd F(2x2, 3x3) (the transforms are in
/// Sources/CKernels/KernelBody.h): 2.25x fewer multiplications than the implicit GEMM, paid for with
/// three linear transforms. The rounding differs from a direct convolution by about as much as a
/// different summation order does (float32 relative error ~1e-6; the parity tests hold it to the
/// same tolerance as the direct path).
///
/// The output is produced in bands of tile rows, so the transformed input and products stay around
/// 32 MB however large the image: per band, the input transform runs in parallel over channels, the 16
/// GEMMs (one per tile position) are shared between the threads, each single-threaded, and the output
/// transform runs in parallel over output channels.
enum WinogradConvolution {
    /// Whether a convolution of this shape is faster this way. With few tiles the weight transform
    /// (per call: the models keep only the 3x3 weights) and thin GEMMs cost more than they save; on a
    /// 2-core Zen 4, 1024 channels on 23x40 (240 tiles) ran 1.24x faster than the direct path,
    /// 512 channels on 16x16 (64 tiles) 0.71x.
    static func isFaster(inChannels: Int, outChannels: Int, height: Int, width: Int) -> Bool {
        inChannels >= 64 && outChannels >= 64 && ((height + 1) / 2) * ((width + 1) / 2) >= 192
    }

    /// Tiles per band: as many as fit the band's transformed input and products (16 · (inChannels +
    /// outChannels) floats per tile) in about 32 MB, but at least 256. Larger bands repack the
    /// transformed weights less often; on a 2-core Zen 4, 256 -> 1024 tiles took 256 channels on
    /// 64x64 from 350 to 370 effective GFLOP/s.
    static func bandTiles(inChannels: Int, outChannels: Int) -> Int {
        max(256, (1 << 23) / (16 * (inChannels + outChannels)))
    }

    static func convolve(_ p: Conv2dParameters, input x: UnsafeMutablePointer<Float>, weight: UnsafeMutablePointer<Float>,
                         bias: UnsafePointer<Float>?, output result: UnsafeMutablePointer<Float>, backend: CPUBackend,
                         bandTiles: Int? = nil) {
        let (inChannels, height, width, outChannels) = (p.inChannels, p.height, p.width, p.outChannels)
        let tilesY = (height + 1) / 2, tilesX = (width + 1) / 2
        let bandTileRows = max(1, min(tilesY, (bandTiles ?? Self.bandTiles(inChannels: inChannels, outChannels: outChannels)) / tilesX))
        let bandCapacity = bandTileRows * tilesX
        let (kernels, pool) = (backend.kernels, backend.pool)
        BufferPool.winogradScratch.withBuffers([16 * outChannels * inChannels, 16 * inChannels * bandCapacity,
                                                16 * outChannels * bandCapacity + 16]) { buffers in
            let (transformedWeights, transformedInput, products) = (buffers[0], buffers[1], buffers[2])
            pool.forEachChunk(outChannels, minimumChunk: 16) { channels in
                kernels.winogradWeightTransform(weight, channels.lowerBound, channels.upperBound, outChannels, inChannels, transformedWeights)
            }
            for image in 0..<p.batch {
                let input = UnsafePointer(x + image * inChannels * height * width)
                let output = result + image * outChannels * height * width
                var firstTileRow = 0
                while firstTileRow < tilesY {
                    let tileRows = min(bandTileRows, tilesY - firstTileRow)
                    let tiles = tileRows * tilesX
                    pool.forEachChunk(inChannels, minimumChunk: 8) { channels in
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: KernelTable.winogradInputScratchCount(tilesX: tilesX)) { scratch in
                            kernels.winogradInputTransform(input, height, width, channels.lowerBound, channels.upperBound, inChannels, firstTileRow, tileRows,
                                                           tilesX, transformedInput, scratch.baseAddress!)
                        }
                    }
                    pool.forEach(16) { position in
                        backend.stridedGEMM(m: outChannels, n: tiles, k: inChannels,
                                            a: transformedWeights + position * outChannels * inChannels, aRowStride: inChannels,
                                            aColumnStride: 1, b: transformedInput + position * inChannels * tiles,
                                            bRowStride: tiles, bColumnStride: 1,
                                            c: products + position * outChannels * tiles, ldc: tiles)
                    }
                    pool.forEachChunk(outChannels, minimumChunk: 8) { channels in
                        kernels.winogradOutputTransform(products, channels.lowerBound, channels.upperBound, outChannels, firstTileRow, tileRows, tilesX,
                                                        bias, output, height, width)
                    }
                    firstTileRow += tileRows
                }
            }
        }
    }
}
