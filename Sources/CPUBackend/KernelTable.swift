import CKernels
import Foundation

/// The per-ISA copies of the C kernels (Sources/CKernels). Swift has no inline assembly for CPUID / XGETBV, so
/// the OS's report is used instead: Linux lists `avx512f` in /proc/cpuinfo only when the kernel
/// enabled the AVX-512 register state in XCR0, macOS answers `hw.optional.*` the same way.
public enum KernelSet: String, CaseIterable, Sendable {
    case avx512, avx2, portable

    /// The fastest set this machine runs, unless `STREAM_DIFFVSR_KERNELS=avx512|avx2|portable` forces a
    /// supported one.
    public static let preferred: KernelSet = {
        if let forced = ProcessInfo.processInfo.environment["STREAM_DIFFVSR_KERNELS"].flatMap(KernelSet.init(rawValue:)),
           supportedSets.contains(forced) {
            return forced
        }
        return supportedSets[0]
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

    var table: KernelTable {
        switch self {
        #if arch(x86_64)
        case .avx512: .avx512
        case .avx2: .avx2
        #else
        case .avx512, .avx2: preconditionFailure("KernelSet: \(self) kernels exist on x86-64 only")
        #endif
        case .portable: .portable
        }
    }
}

/// One kernel set's entry points: the copy of CKernels compiled for that instruction set. The copies
/// share one C source, so their signatures are equal and a table of function values replaces a switch
/// at every call site.
struct KernelTable: Sendable {
    typealias GEMM = @convention(c) (_ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                                _ a: UnsafePointer<Float>?, _ aRowStride: Int, _ aColumnStride: Int,
                                _ b: UnsafePointer<Float>?, _ bRowStride: Int, _ bColumnStride: Int, _ beta: Float,
                                _ rowBias: UnsafePointer<Float>?, _ c: UnsafeMutablePointer<Float>?, _ ldc: Int,
                                _ workspace: UnsafeMutablePointer<Float>?) -> Void
    typealias ConvolutionGEMM = @convention(c) (_ m: Int, _ n: Int, _ k: Int, _ weights: UnsafePointer<Float>?,
                                           _ input: UnsafePointer<Float>?, _ height: Int, _ width: Int, _ kernelHeight: Int,
                                           _ kernelWidth: Int, _ strideY: Int, _ strideX: Int, _ padY: Int, _ padX: Int,
                                           _ outWidth: Int, _ firstPixel: Int, _ rowBias: UnsafePointer<Float>?,
                                           _ c: UnsafeMutablePointer<Float>?, _ ldc: Int,
                                           _ workspace: UnsafeMutablePointer<Float>?) -> Void
    typealias WinogradWeightTransform = @convention(c) (_ weights: UnsafePointer<Float>?, _ firstOut: Int, _ endOut: Int,
                                                   _ outChannelCount: Int, _ inChannels: Int,
                                                   _ transformed: UnsafeMutablePointer<Float>?) -> Void
    typealias WinogradInputTransform = @convention(c) (_ input: UnsafePointer<Float>?, _ height: Int, _ width: Int,
                                                  _ firstChannel: Int, _ endChannel: Int, _ inChannels: Int,
                                                  _ firstTileRow: Int, _ tileRows: Int, _ tilesX: Int,
                                                  _ transformed: UnsafeMutablePointer<Float>?,
                                                  _ scratch: UnsafeMutablePointer<Float>?) -> Void
    typealias WinogradOutputTransform = @convention(c) (_ products: UnsafePointer<Float>?, _ firstChannel: Int,
                                                   _ endChannel: Int, _ outChannels: Int, _ firstTileRow: Int,
                                                   _ tileRows: Int, _ tilesX: Int, _ bias: UnsafePointer<Float>?,
                                                   _ output: UnsafeMutablePointer<Float>?, _ height: Int,
                                                   _ width: Int) -> Void
    typealias RowOperation = @convention(c) (_ row: UnsafeMutablePointer<Float>?, _ count: Int) -> Void
    typealias Activation = @convention(c) (_ activation: Int32, _ input: UnsafePointer<Float>?,
                                          _ output: UnsafeMutablePointer<Float>?, _ count: Int) -> Void
    typealias Widening = @convention(c) (_ source: UnsafePointer<UInt16>?, _ target: UnsafeMutablePointer<Float>?,
                                    _ count: Int) -> Void

    let set: KernelSet
    /// SIMD width of the GEMM micro-kernel this set runs.
    let vectorWidth: Int
    let workspaceCount: Int
    let gemm: GEMM
    let convolutionGEMM: ConvolutionGEMM
    let winogradWeightTransform: WinogradWeightTransform
    let winogradInputTransform: WinogradInputTransform
    let winogradOutputTransform: WinogradOutputTransform
    let softmaxRow: RowOperation
    /// e^x in place with the set's vector exp (~1 ulp).
    let exp: RowOperation
    /// Exact IEEE half / bfloat16 -> float of bit patterns in host order.
    let halfToFloat: Widening
    let bfloat16ToFloat: Widening
    /// One of the SDV_ACTIVATION_* functions (SiLU, GELU, tanh, ...) on 16 lanes.
    let activation: Activation

    #if arch(x86_64)
    static let avx512 = KernelTable(
        set: .avx512, vectorWidth: sdv_vector_width_avx512(), workspaceCount: sdv_workspace_count_avx512(),
        gemm: sdv_gemm_avx512, convolutionGEMM: sdv_convolution_gemm_avx512,
        winogradWeightTransform: sdv_winograd_weight_transform_avx512,
        winogradInputTransform: sdv_winograd_input_transform_avx512,
        winogradOutputTransform: sdv_winograd_output_transform_avx512,
        softmaxRow: sdv_softmax_row_avx512, exp: sdv_exp_avx512,
        halfToFloat: sdv_half_to_float_avx512, bfloat16ToFloat: sdv_bfloat16_to_float_avx512,
        activation: sdv_activation_avx512)

    static let avx2 = KernelTable(
        set: .avx2, vectorWidth: sdv_vector_width_avx2(), workspaceCount: sdv_workspace_count_avx2(),
        gemm: sdv_gemm_avx2, convolutionGEMM: sdv_convolution_gemm_avx2,
        winogradWeightTransform: sdv_winograd_weight_transform_avx2,
        winogradInputTransform: sdv_winograd_input_transform_avx2,
        winogradOutputTransform: sdv_winograd_output_transform_avx2,
        softmaxRow: sdv_softmax_row_avx2, exp: sdv_exp_avx2,
        halfToFloat: sdv_half_to_float_avx2, bfloat16ToFloat: sdv_bfloat16_to_float_avx2,
        activation: sdv_activation_avx2)
    #endif

    static let portable = KernelTable(
        set: .portable, vectorWidth: sdv_vector_width_portable(), workspaceCount: sdv_workspace_count_portable(),
        gemm: sdv_gemm_portable, convolutionGEMM: sdv_convolution_gemm_portable,
        winogradWeightTransform: sdv_winograd_weight_transform_portable,
        winogradInputTransform: sdv_winograd_input_transform_portable,
        winogradOutputTransform: sdv_winograd_output_transform_portable,
        softmaxRow: sdv_softmax_row_portable, exp: sdv_exp_portable,
        halfToFloat: sdv_half_to_float_portable, bfloat16ToFloat: sdv_bfloat16_to_float_portable,
        activation: sdv_activation_portable)

    /// Scratch floats the Winograd input transform needs per call (every set uses the same layout).
    static func winogradInputScratchCount(tilesX: Int) -> Int {
        sdv_winograd_input_scratch_count(tilesX)
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
