import BackendInterface

extension CPUBackend {
    /// An implicit GEMM: weight [Cout, Cin·kh·kw] times the im2col matrix, whose cache-sized panels the
    /// kernels pack straight from the image (im2col is never materialised). Pointwise convolutions
    /// multiply the image itself; large 3x3 ones go through Winograd. The bias is added as the first
    /// result is stored.
    public func conv2d(_ p: Conv2dParameters, input: BackendBuffer, weight: BackendBuffer, bias: BackendBuffer?,
                       into output: BackendBuffer) {
        let (x, w, result) = (floats(input), floats(weight), floats(output))
        let biasData = bias.map { UnsafePointer(floats($0)) }
        if p.kernelHeight == 3 && p.kernelWidth == 3 && (p.strideY, p.strideX) == (1, 1) && (p.paddingY, p.paddingX) == (1, 1)
            && WinogradConvolution.isFaster(inChannels: p.inChannels, outChannels: p.outChannels, height: p.height, width: p.width) {
            WinogradConvolution.convolve(p, input: x, weight: w, bias: biasData, output: result, backend: self)
            return
        }
        let (outHeight, outWidth) = (p.outHeight, p.outWidth)
        let pixels = outHeight * outWidth
        let reduction = p.inChannels * p.kernelHeight * p.kernelWidth
        let isPointwise = p.kernelHeight == 1 && p.kernelWidth == 1 && (p.strideY, p.strideX) == (1, 1)
            && (p.paddingY, p.paddingX) == (0, 0)
        let kernels = self.kernels
        for image in 0..<p.batch {
            let imageInput = UnsafePointer(x + image * p.inChannels * p.height * p.width)
            let imageOutput = result + image * p.outChannels * pixels
            if isPointwise {
                stridedGEMM(m: p.outChannels, n: pixels, k: p.inChannels, a: w, aRowStride: p.inChannels, aColumnStride: 1,
                            b: imageInput, bRowStride: pixels, bColumnStride: 1, rowBias: biasData, c: imageOutput, ldc: pixels)
                continue
            }
            let split = WorkSplit(m: p.outChannels, n: pixels, k: reduction, threads: pool.effectiveThreads)
            pool.forEachChunk(split.parts, minimumChunk: 1) { parts in
                for part in parts {
                    let (channels, columns) = split.range(of: part)
                    BufferPool.gemmWorkspaces.withBuffer(floats: BufferPool.gemmWorkspaceFloats) { workspace in
                        kernels.convolutionGEMM(
                            channels.count, columns.count, reduction,
                            w + channels.lowerBound * reduction, imageInput, p.height, p.width,
                            p.kernelHeight, p.kernelWidth, p.strideY, p.strideX, p.paddingY, p.paddingX, outWidth,
                            columns.lowerBound, biasData.map { $0 + channels.lowerBound },
                            imageOutput + channels.lowerBound * pixels + columns.lowerBound, pixels, workspace)
                    }
                }
            }
        }
    }
}
