import Foundation
import KernelsAVX2
import KernelsAVX512
import KernelsPortable

/// The per-ISA builds of Sources/KernelSources, chosen once at start-up from what the CPU and the OS
/// support. Swift has no inline assembly for CPUID / XGETBV, so the OS's report is used instead: Linux
/// lists `avx512f` in /proc/cpuinfo only when the kernel enabled the AVX-512 register state in XCR0,
/// macOS answers `hw.optional.*` the same way. `STREAM_DIFFVSR_KERNELS=avx512|avx2|portable`
/// forces a set (it is ignored when the CPU cannot run it).
public enum KernelSet: String, CaseIterable, Sendable {
    case avx512, avx2, portable

    /// The set every operation uses.
    public static let active: KernelSet = {
        let supported = supportedSets
        if let forced = ProcessInfo.processInfo.environment["STREAM_DIFFVSR_KERNELS"].flatMap(KernelSet.init(rawValue:)),
           supported.contains(forced) {
            return forced
        }
        return supported[0]
    }()

    /// Sets this machine can run, fastest first (portable always last).
    public static let supportedSets: [KernelSet] = {
        #if arch(x86_64)
        let features = cpuFeatures()
        var sets: [KernelSet] = []
        if features.contains("avx512f") { sets.append(.avx512) }
        if features.contains("avx2") && features.contains("fma") { sets.append(.avx2) }
        return sets + [.portable]
        #else
        return [.portable]
        #endif
    }()

    /// SIMD width of the GEMM micro-kernel this set runs.
    var vectorWidth: Int { self == .avx512 ? 16 : 8 }

    var workspaceCount: Int {
        switch self {
        case .avx512: KernelsAVX512.kernelWorkspaceCount(vectorWidth: vectorWidth)
        case .avx2: KernelsAVX2.kernelWorkspaceCount(vectorWidth: vectorWidth)
        case .portable: KernelsPortable.kernelWorkspaceCount(vectorWidth: vectorWidth)
        }
    }

    func gemm(m: Int, n: Int, k: Int, alpha: Float,
              a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int,
              b: UnsafePointer<Float>, bRowStride: Int, bColumnStride: Int,
              beta: Float, rowBias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int,
              workspace: UnsafeMutablePointer<Float>) {
        switch self {
        case .avx512:
            KernelsAVX512.kernelGEMM(vectorWidth: vectorWidth, m: m, n: n, k: k, alpha: alpha, a: a,
                                     aRowStride: aRowStride, aColumnStride: aColumnStride, b: b,
                                     bRowStride: bRowStride, bColumnStride: bColumnStride, beta: beta,
                                     rowBias: rowBias, c: c, ldc: ldc, workspace: workspace)
        case .avx2:
            KernelsAVX2.kernelGEMM(vectorWidth: vectorWidth, m: m, n: n, k: k, alpha: alpha, a: a,
                                   aRowStride: aRowStride, aColumnStride: aColumnStride, b: b,
                                   bRowStride: bRowStride, bColumnStride: bColumnStride, beta: beta,
                                   rowBias: rowBias, c: c, ldc: ldc, workspace: workspace)
        case .portable:
            KernelsPortable.kernelGEMM(vectorWidth: vectorWidth, m: m, n: n, k: k, alpha: alpha, a: a,
                                       aRowStride: aRowStride, aColumnStride: aColumnStride, b: b,
                                       bRowStride: bRowStride, bColumnStride: bColumnStride, beta: beta,
                                       rowBias: rowBias, c: c, ldc: ldc, workspace: workspace)
        }
    }

    func convolutionGEMM(m: Int, n: Int, k: Int, weights: UnsafePointer<Float>, input: UnsafePointer<Float>,
                         height: Int, width: Int, kernelHeight: Int, kernelWidth: Int,
                         stride: (Int, Int), padding: (Int, Int), outWidth: Int, firstPixel: Int,
                         rowBias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int,
                         workspace: UnsafeMutablePointer<Float>) {
        switch self {
        case .avx512:
            KernelsAVX512.kernelConvolutionGEMM(
                vectorWidth: vectorWidth, m: m, n: n, k: k, weights: weights, input: input, height: height,
                width: width, kernelHeight: kernelHeight, kernelWidth: kernelWidth, strideY: stride.0,
                strideX: stride.1, padY: padding.0, padX: padding.1, outWidth: outWidth, firstPixel: firstPixel,
                rowBias: rowBias, c: c, ldc: ldc, workspace: workspace)
        case .avx2:
            KernelsAVX2.kernelConvolutionGEMM(
                vectorWidth: vectorWidth, m: m, n: n, k: k, weights: weights, input: input, height: height,
                width: width, kernelHeight: kernelHeight, kernelWidth: kernelWidth, strideY: stride.0,
                strideX: stride.1, padY: padding.0, padX: padding.1, outWidth: outWidth, firstPixel: firstPixel,
                rowBias: rowBias, c: c, ldc: ldc, workspace: workspace)
        case .portable:
            KernelsPortable.kernelConvolutionGEMM(
                vectorWidth: vectorWidth, m: m, n: n, k: k, weights: weights, input: input, height: height,
                width: width, kernelHeight: kernelHeight, kernelWidth: kernelWidth, strideY: stride.0,
                strideX: stride.1, padY: padding.0, padX: padding.1, outWidth: outWidth, firstPixel: firstPixel,
                rowBias: rowBias, c: c, ldc: ldc, workspace: workspace)
        }
    }

    func winogradWeightTransform(weights: UnsafePointer<Float>, outChannels: Range<Int>, outChannelCount: Int,
                                 inChannels: Int, into transformed: UnsafeMutablePointer<Float>) {
        switch self {
        case .avx512:
            KernelsAVX512.kernelWinogradWeightTransform(weights: weights, outChannels: outChannels, outChannelCount: outChannelCount,
                                                        inChannels: inChannels, into: transformed)
        case .avx2:
            KernelsAVX2.kernelWinogradWeightTransform(weights: weights, outChannels: outChannels, outChannelCount: outChannelCount,
                                                      inChannels: inChannels, into: transformed)
        case .portable:
            KernelsPortable.kernelWinogradWeightTransform(weights: weights, outChannels: outChannels, outChannelCount: outChannelCount,
                                                          inChannels: inChannels, into: transformed)
        }
    }

    /// Scratch floats `winogradInputTransform` needs per call (every set uses the same layout).
    static func winogradInputScratchCount(tilesX: Int) -> Int {
        KernelsPortable.winogradInputScratchCount(tilesX: tilesX)
    }

    func winogradInputTransform(input: UnsafePointer<Float>, height: Int, width: Int, channels: Range<Int>, inChannels: Int,
                                firstTileRow: Int, tileRows: Int, tilesX: Int,
                                into transformed: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        switch self {
        case .avx512:
            KernelsAVX512.kernelWinogradInputTransform(input: input, height: height, width: width, channels: channels,
                                                       inChannels: inChannels, firstTileRow: firstTileRow, tileRows: tileRows,
                                                       tilesX: tilesX, into: transformed, scratch: scratch)
        case .avx2:
            KernelsAVX2.kernelWinogradInputTransform(input: input, height: height, width: width, channels: channels,
                                                     inChannels: inChannels, firstTileRow: firstTileRow, tileRows: tileRows,
                                                     tilesX: tilesX, into: transformed, scratch: scratch)
        case .portable:
            KernelsPortable.kernelWinogradInputTransform(input: input, height: height, width: width, channels: channels,
                                                         inChannels: inChannels, firstTileRow: firstTileRow, tileRows: tileRows,
                                                         tilesX: tilesX, into: transformed, scratch: scratch)
        }
    }

    func winogradOutputTransform(products: UnsafePointer<Float>, channels: Range<Int>, outChannels: Int,
                                 firstTileRow: Int, tileRows: Int, tilesX: Int, bias: UnsafePointer<Float>?,
                                 output: UnsafeMutablePointer<Float>, height: Int, width: Int) {
        switch self {
        case .avx512:
            KernelsAVX512.kernelWinogradOutputTransform(products: products, channels: channels, outChannels: outChannels,
                                                        firstTileRow: firstTileRow, tileRows: tileRows, tilesX: tilesX,
                                                        bias: bias, output: output, height: height, width: width)
        case .avx2:
            KernelsAVX2.kernelWinogradOutputTransform(products: products, channels: channels, outChannels: outChannels,
                                                      firstTileRow: firstTileRow, tileRows: tileRows, tilesX: tilesX,
                                                      bias: bias, output: output, height: height, width: width)
        case .portable:
            KernelsPortable.kernelWinogradOutputTransform(products: products, channels: channels, outChannels: outChannels,
                                                          firstTileRow: firstTileRow, tileRows: tileRows, tilesX: tilesX,
                                                          bias: bias, output: output, height: height, width: width)
        }
    }

    func softmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .avx512: KernelsAVX512.kernelSoftmaxRow(row, count: count)
        case .avx2: KernelsAVX2.kernelSoftmaxRow(row, count: count)
        case .portable: KernelsPortable.kernelSoftmaxRow(row, count: count)
        }
    }

    /// e^x in place with the set's vector exp (~1 ulp).
    public func exp(_ values: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .avx512: KernelsAVX512.kernelExp(values, count: count)
        case .avx2: KernelsAVX2.kernelExp(values, count: count)
        case .portable: KernelsPortable.kernelExp(values, count: count)
        }
    }
}

#if arch(x86_64)
private func cpuFeatures() -> Set<String> {
    #if os(Linux)
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
          let colon = flagsLine.firstIndex(of: ":") else { return [] }
    return Set(flagsLine[flagsLine.index(after: colon)...].split(separator: " ").map(String.init))
    #elseif os(macOS)
    var features: Set<String> = []
    for (name, flag) in [("hw.optional.avx512f", "avx512f"), ("hw.optional.avx2_0", "avx2"), ("hw.optional.fma", "fma")] {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if sysctlbyname(name, &value, &size, nil, 0) == 0, value != 0 { features.insert(flag) }
    }
    return features
    #else
    return []
    #endif
}
#endif
