// Every ComputeBackend operation as a dispatch of its kernel (Shaders/<name>.comp): the push constants
// carry the sizes the engine resolved, buffers are bound whole and indexed in elements.

import BackendInterface
import CVulkanRuntime

/// Drops unit dimensions and merges neighbours that are contiguous in every operand, so strided
/// operations fit the kernels' six dimensions.
func collapsedLayout(shape: [Int], strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
    var outShape: [Int] = []
    var outStrides: [[Int]] = strides.map { _ in [] }
    for axis in shape.indices where shape[axis] != 1 {
        if let last = outShape.indices.last,
           strides.indices.allSatisfy({ outStrides[$0][last] == strides[$0][axis] * shape[axis] }) {
            outShape[last] *= shape[axis]
            for operand in strides.indices { outStrides[operand][last] = strides[operand][axis] }
        } else {
            outShape.append(shape[axis])
            for operand in strides.indices { outStrides[operand].append(strides[operand][axis]) }
        }
    }
    return (outShape, outStrides)
}

extension VulkanBackend {
    // MARK: Layout

    public func fill(_ output: BackendBuffer, value: Float) {
        let buffer = vulkan(output)
        guard let handle = buffer.handle, buffer.count > 0 else { return }
        let pattern: UInt32 = switch buffer.elementType {
        case .float32: value.bitPattern
        case .float16: UInt32(halfBits(from: value)) * 0x1_0001
        case .bfloat16: UInt32(bfloat16Bits(from: value)) * 0x1_0001
        }
        _ = svk_fill(context, handle, 0, (buffer.byteCount + 3) / 4 * 4, pattern)
    }

    public func copy(_ source: BackendBuffer, into output: BackendBuffer, _ layout: StridedCopy) {
        let (from, to) = (vulkan(source), vulkan(output))
        precondition(from.elementType == to.elementType, "VulkanBackend.copy: \(from.elementType) into \(to.elementType)")
        guard layout.count > 0, let sourceHandle = from.handle, let targetHandle = to.handle else { return }
        let size = from.elementType.byteSize
        let (shape, strides) = collapsedLayout(shape: layout.shape, strides: [layout.sourceStrides, layout.outputStrides])
        // Contiguous runs (whole tensors, concatenation along the outer axis) are transfer copies.
        if shape.count <= 2, strides.allSatisfy({ $0.last ?? 1 == 1 }), (shape.count < 2 || shape[0] <= 4096) {
            let (outer, inner) = shape.count == 2 ? (shape[0], shape[1]) : (1, shape.first ?? 1)
            var regions: [UInt64] = []
            for row in 0..<outer {
                let sourceOffset = layout.sourceOffset + (shape.count == 2 ? row * strides[0][0] : 0)
                let targetOffset = layout.outputOffset + (shape.count == 2 ? row * strides[1][0] : 0)
                regions += [UInt64(sourceOffset * size), UInt64(targetOffset * size), UInt64(inner * size)]
            }
            _ = svk_copy(context, sourceHandle, targetHandle, regions, UInt32(outer))
            return
        }
        guard shape.count <= 6 else { return fail("a strided copy of rank \(shape.count) (at most 6 after merging)") }
        guard size == 4 || kernels.capabilities.storage16Bit else {
            return fail("a strided copy of 16-bit elements needs storageBuffer16BitAccess")
        }
        var push = PushConstants()
        push.add(layout.count)
        push.add(shape.count)
        push.add(layout.sourceOffset)
        push.add(layout.outputOffset)
        push.add(shape, paddedTo: 6)
        push.add(strides[0], paddedTo: 6)
        push.add(strides[1], paddedTo: 6)
        dispatch(.copy, variant: size == 4 ? "copy.32" : "copy.16", [source, output], push,
                 groups: workgroupGrid(items: (layout.count + 255) / 256))
    }

    public func convert(_ source: BackendBuffer, into output: BackendBuffer) {
        let (from, to) = (vulkan(source), vulkan(output))
        if from.elementType == to.elementType {
            copy(source, into: output, StridedCopy(shape: [from.count], sourceOffset: 0, sourceStrides: [1], outputOffset: 0,
                                                   outputStrides: [1]))
            return
        }
        func code(_ type: ElementType) -> Int { type == .float32 ? 0 : type == .float16 ? 1 : 2 }
        var push = PushConstants()
        push.add(from.count)
        push.add(code(from.elementType))
        push.add(code(to.elementType))
        let words = to.elementType == .float32 ? from.count : (from.count + 1) / 2
        dispatch(.convert, variant: "convert", [source, output], push, groups: workgroupGrid(items: (words + 255) / 256))
    }

    public func pad(_ input: BackendBuffer, into output: BackendBuffer, _ p: PadParameters) {
        var push = PushConstants()
        push.add(output.count)
        push.add(p.height)
        push.add(p.width)
        push.add(p.top)
        push.add(p.left)
        push.add(p.outHeight)
        push.add(p.outWidth)
        push.add(p.mode == .replicate)
        dispatchElements(.pad, elementType: output.elementType, [input, output], push, count: output.count)
    }

    public func gatherRows(_ table: BackendBuffer, into output: BackendBuffer, _ p: GatherParameters) {
        let (from, to) = (vulkan(table), vulkan(output))
        guard let sourceHandle = from.handle, let targetHandle = to.handle, !p.indices.isEmpty, p.width > 0 else { return }
        let rowBytes = UInt64(p.width * from.elementType.byteSize)
        var regions: [UInt64] = []
        for (row, index) in p.indices.enumerated() { regions += [UInt64(index) * rowBytes, UInt64(row) * rowBytes, rowBytes] }
        _ = svk_copy(context, sourceHandle, targetHandle, regions, UInt32(p.indices.count))
    }

    // MARK: Elementwise

    public func unary(_ operation: UnaryOperation, _ input: BackendBuffer, into output: BackendBuffer) {
        var push = PushConstants()
        push.add(input.count)
        push.add(UnaryOperation.allCases.firstIndex(of: operation)!)
        dispatchElements(.unary, elementType: output.elementType, [input, output], push, count: input.count)
    }

    public func scalar(_ operation: ScalarOperation, _ input: BackendBuffer, _ scalar: Float, into output: BackendBuffer) {
        var push = PushConstants()
        push.add(input.count)
        push.add(ScalarOperation.allCases.firstIndex(of: operation)!)
        push.add(scalar)
        dispatchElements(.scalar, elementType: output.elementType, [input, output], push, count: input.count)
    }

    public func binary(_ operation: BinaryOperation, _ a: BackendBuffer, _ b: BackendBuffer, into output: BackendBuffer,
                       _ layout: BroadcastLayout) {
        let outputStrides = contiguousStrides(layout.shape)
        let (shape, strides) = collapsedLayout(shape: layout.shape, strides: [layout.aStrides, layout.bStrides, outputStrides])
        guard shape.count <= 6 else { return fail("a broadcast of rank \(shape.count) (at most 6 after merging)") }
        var push = PushConstants()
        push.add(layout.count)
        push.add(BinaryOperation.allCases.firstIndex(of: operation)!)
        push.add(shape.count)
        push.add(shape, paddedTo: 6)
        push.add(strides[0], paddedTo: 6)
        push.add(strides[1], paddedTo: 6)
        dispatchElements(.binary, elementType: output.elementType, [a, b, output], push, count: layout.count)
    }

    public func accumulate(_ source: BackendBuffer, scale: Float, into target: BackendBuffer) {
        var push = PushConstants()
        push.add(target.count)
        push.add(scale)
        dispatchElements(.accumulate, elementType: target.elementType, [target, source], push, count: target.count)
    }

    public func blend(_ a: BackendBuffer, _ b: BackendBuffer, weight: BackendBuffer, into output: BackendBuffer) {
        var push = PushConstants()
        push.add(output.count)
        dispatchElements(.blend, elementType: output.elementType, [a, b, weight, output], push, count: output.count)
    }

    // MARK: Linear algebra and convolution

    public func gemm(_ p: GEMMParameters, a: BackendBuffer, b: BackendBuffer, bias: BackendBuffer?, into output: BackendBuffer) {
        guard p.batch <= 65535 else { return fail("a batched product of \(p.batch) entries (at most 65535)") }
        var push = PushConstants()
        push.add(p.m)
        push.add(p.n)
        push.add(p.k)
        push.add(p.aBatchStride)
        push.add(p.bBatchStride)
        push.add(p.transposeA ? 1 : p.k)
        push.add(p.transposeA ? p.m : 1)
        push.add(p.transposeB ? 1 : p.n)
        push.add(p.transposeB ? p.k : 1)
        push.add(p.alpha)
        push.add(bias != nil)
        let variant = kernels.variant(.gemm, elementType: output.elementType, weightType: b.elementType)
        dispatch(.gemm, variant: variant, [a, b, bias ?? output, output], push,
                 groups: ((p.n + 63) / 64, (p.m + 63) / 64, p.batch))
    }

    public func conv2d(_ p: Conv2dParameters, input: BackendBuffer, weight: BackendBuffer, bias: BackendBuffer?,
                       into output: BackendBuffer) {
        guard p.batch <= 65535 else { return fail("a convolution of \(p.batch) images (at most 65535)") }
        var push = PushConstants()
        for value in [p.inChannels, p.height, p.width, p.outChannels, p.kernelHeight, p.kernelWidth, p.strideY, p.strideX,
                      p.paddingY, p.paddingX, p.outHeight, p.outWidth] { push.add(value) }
        push.add(bias != nil)
        let variant = kernels.variant(.conv2d, elementType: output.elementType, weightType: weight.elementType)
        dispatch(.conv2d, variant: variant, [input, weight, bias ?? output, output], push,
                 groups: ((p.outHeight * p.outWidth + 63) / 64, (p.outChannels + 63) / 64, p.batch))
    }

    public func attention(_ p: AttentionParameters, query: BackendBuffer, key: BackendBuffer, value: BackendBuffer,
                          into output: BackendBuffer) {
        guard p.channels / p.heads <= 512, p.valueChannels / p.heads <= 512 else {
            return fail("attention heads wider than 512 channels")
        }
        guard p.batch * p.heads <= 65535 else { return fail("attention over more than 65535 batch x heads") }
        var push = PushConstants()
        push.add(p.queryLength)
        push.add(p.keyLength)
        push.add(p.channels)
        push.add(p.valueChannels)
        push.add(p.heads)
        push.add(p.scale)
        push.add(p.causal)
        dispatch(.attention, variant: kernels.variant(.attention, elementType: output.elementType), [query, key, value, output],
                 push, groups: workgroupGrid(items: p.queryLength, z: p.batch * p.heads))
    }

    public func softmax(_ p: RowParameters, _ input: BackendBuffer, into output: BackendBuffer) {
        var push = PushConstants()
        push.add(p.rows)
        push.add(p.length)
        dispatch(.softmax, variant: kernels.variant(.softmax, elementType: output.elementType), [input, output], push,
                 groups: workgroupGrid(items: p.rows))
    }

    // MARK: Normalisation

    public func groupNorm(_ p: GroupNormParameters, _ input: BackendBuffer, weight: BackendBuffer?, bias: BackendBuffer?,
                          into output: BackendBuffer) {
        var push = PushConstants()
        push.add(p.groups)
        push.add(p.channels / p.groups)
        push.add(p.spatial)
        push.add(p.epsilon)
        push.add(weight != nil)
        push.add(bias != nil)
        push.add(false)
        dispatch(.groupNorm, variant: kernels.variant(.groupNorm, elementType: output.elementType),
                 [input, weight ?? input, bias ?? input, output], push, groups: (p.batch * p.groups, 1, 1))
    }

    public func layerNorm(_ p: RowParameters, epsilon: Float, _ input: BackendBuffer, weight: BackendBuffer?,
                          bias: BackendBuffer?, into output: BackendBuffer) {
        var push = PushConstants()
        push.add(p.rows)
        push.add(p.length)
        push.add(epsilon)
        push.add(weight != nil)
        push.add(bias != nil)
        dispatch(.layerNorm, variant: kernels.variant(.layerNorm, elementType: output.elementType),
                 [input, weight ?? input, bias ?? input, output], push, groups: workgroupGrid(items: p.rows))
    }

    public func batchNorm(_ p: BatchNormParameters, _ input: BackendBuffer, mean: BackendBuffer, variance: BackendBuffer,
                          weight: BackendBuffer?, bias: BackendBuffer?, into output: BackendBuffer) {
        var push = PushConstants()
        push.add(output.count)
        push.add(p.channels)
        push.add(p.spatial)
        push.add(p.epsilon)
        push.add(weight != nil)
        push.add(bias != nil)
        dispatchElements(.batchNorm, elementType: output.elementType, [input, mean, variance, weight ?? input, bias ?? input, output],
                         push, count: output.count)
    }

    // MARK: Resampling

    public func interpolate(_ p: InterpolationParameters, _ input: BackendBuffer, into output: BackendBuffer) {
        var push = PushConstants()
        push.add(output.count)
        for value in [p.inHeight, p.inWidth, p.outHeight, p.outWidth] { push.add(value) }
        push.add(p.mode == .nearest ? 0 : p.mode == .bilinear ? 1 : 2)
        push.add(p.alignCorners)
        push.add(p.scaleY)
        push.add(p.scaleX)
        dispatchElements(.interpolate, elementType: output.elementType, [input, output], push, count: output.count)
    }

    public func gridSample(_ p: GridSampleParameters, _ input: BackendBuffer, grid: BackendBuffer, into output: BackendBuffer) {
        let pixels = p.batch * p.outHeight * p.outWidth
        var push = PushConstants()
        for value in [pixels, p.channels, p.inHeight, p.inWidth, p.outHeight, p.outWidth] { push.add(value) }
        push.add(p.mode == .nearest)
        push.add(p.padding == .border)
        push.add(p.alignCorners)
        dispatchElements(.gridSample, elementType: output.elementType, [input, grid, output], push, count: pixels)
    }

    public func avgPool2d(_ p: PoolParameters, _ input: BackendBuffer, into output: BackendBuffer) {
        var push = PushConstants()
        for value in [output.count, p.height, p.width, p.outHeight, p.outWidth, p.kernelHeight, p.kernelWidth, p.strideY, p.strideX] {
            push.add(value)
        }
        dispatchElements(.avgPool, elementType: output.elementType, [input, output], push, count: output.count)
    }

    // MARK: Stream-DiffVSR's fused operations

    public func ddimStep(_ p: DDIMStepParameters, sample: BackendBuffer, modelOutput: BackendBuffer, into output: BackendBuffer) {
        var push = PushConstants()
        push.add(output.count)
        push.add(p.prediction == .epsilon ? 0 : p.prediction == .sample ? 1 : 2)
        push.add(p.sqrtAlpha)
        push.add(p.sqrtBeta)
        push.add(p.sqrtAlphaPrevious)
        push.add(p.directionScale)
        push.add(p.clip != nil)
        push.add(p.clip ?? 0)
        dispatchElements(.ddim, elementType: output.elementType, [sample, modelOutput, output], push, count: output.count)
    }

    public func coordinateGrid(_ p: CoordinateGridParameters, into output: BackendBuffer) {
        var push = PushConstants()
        push.add(output.count)
        push.add(p.height)
        push.add(p.width)
        dispatchElements(.coordinateGrid, elementType: output.elementType, [output], push, count: output.count)
    }

    public func flowSamplingGrid(_ p: FlowGridParameters, flow: BackendBuffer, into output: BackendBuffer) {
        let pixels = p.batch * p.height * p.width
        var push = PushConstants()
        push.add(pixels)
        push.add(p.height)
        push.add(p.width)
        push.add(p.spanX)
        push.add(p.spanY)
        dispatchElements(.flowGrid, elementType: output.elementType, [flow, output], push, count: pixels)
    }

    public func convexUpsample(_ p: ConvexUpsampleParameters, flow: BackendBuffer, mask: BackendBuffer, into output: BackendBuffer) {
        let finePixels = p.height * p.width * p.factor * p.factor
        var push = PushConstants()
        push.add(finePixels)
        push.add(p.height)
        push.add(p.width)
        push.add(p.factor)
        dispatchElements(.convexUpsample, elementType: output.elementType, [flow, mask, output], push, count: finePixels)
    }

    public func correlationLookup(_ p: CorrelationLookupParameters, volumes: [BackendBuffer], coordinates: BackendBuffer,
                                  into output: BackendBuffer) {
        for level in p.levelSizes.indices {
            dispatchElements(.correlationLookup, elementType: output.elementType, [volumes[level], coordinates, output],
                             lookupPush(p, level: level), count: p.height * p.width)
        }
    }

    public func correlationLookupOnDemand(_ p: CorrelationLookupParameters, queries: BackendBuffer, keys: [BackendBuffer],
                                          coordinates: BackendBuffer, into output: BackendBuffer) {
        for level in p.levelSizes.indices {
            dispatchElements(.correlationOnDemand, elementType: output.elementType, [queries, keys[level], coordinates, output],
                             lookupPush(p, level: level), count: p.height * p.width)
        }
    }

    private func lookupPush(_ p: CorrelationLookupParameters, level: Int) -> PushConstants {
        var push = PushConstants()
        for value in [p.height, p.width, p.levelSizes[level][0], p.levelSizes[level][1], p.radius, level, p.levelSizes.count,
                      p.channels] {
            push.add(value)
        }
        return push
    }
}

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
