// The resolved arguments of every backend operation. TensorEngine fills them from tensor shapes after
// checking them; backends trust them (sizes agree with the buffers they are given).

public enum UnaryOperation: String, Sendable, CaseIterable {
    /// NaN stays NaN and -0 stays -0 (comparison-based, like PyTorch's clamp_min).
    case relu
    case silu, sigmoid, tanh, exp, sqrt
    /// Exact erf form.
    case gelu
    /// The tanh approximation (as x * sigmoid(2u), the same function).
    case geluTanh
    /// OpenAI CLIP's x * sigmoid(1.702 x).
    case quickGELU
}

public enum ScalarOperation: String, Sendable, CaseIterable {
    /// x + s, x - s, x * s, x / s, s - x.
    case add, subtract, multiply, divide, reverseSubtract
}

public enum BinaryOperation: String, Sendable, CaseIterable {
    case add, subtract, multiply, divide
}

/// Broadcasting binary operation: the output is contiguous with `shape`; element `index` (a
/// multi-index) of operand a is at `sum(index[d] * aStrides[d])`, a stride 0 repeats it.
public struct BroadcastLayout: Sendable, Equatable {
    public var shape: [Int]
    public var aStrides: [Int]
    public var bStrides: [Int]

    public init(shape: [Int], aStrides: [Int], bStrides: [Int]) {
        self.shape = shape
        self.aStrides = aStrides
        self.bStrides = bStrides
    }

    public var count: Int { shape.reduce(1, *) }
}

/// Copies the elements of `shape` from `sourceOffset + sum(index[d] * sourceStrides[d])` to
/// `outputOffset + sum(index[d] * outputStrides[d])`.
public struct StridedCopy: Sendable, Equatable {
    public var shape: [Int]
    public var sourceOffset: Int
    public var sourceStrides: [Int]
    public var outputOffset: Int
    public var outputStrides: [Int]

    public init(shape: [Int], sourceOffset: Int, sourceStrides: [Int], outputOffset: Int, outputStrides: [Int]) {
        self.shape = shape
        self.sourceOffset = sourceOffset
        self.sourceStrides = sourceStrides
        self.outputOffset = outputOffset
        self.outputStrides = outputStrides
    }

    public var count: Int { shape.reduce(1, *) }
}

public enum PadMode: String, Sendable {
    /// Zeros outside the input.
    case zeros
    /// The nearest edge element (PyTorch's "replicate").
    case replicate
}

/// Pads `planes` planes of height x width by the given margins.
public struct PadParameters: Sendable, Equatable {
    public var planes: Int, height: Int, width: Int
    public var top: Int, bottom: Int, left: Int, right: Int
    public var mode: PadMode

    public init(planes: Int, height: Int, width: Int, top: Int, bottom: Int, left: Int, right: Int, mode: PadMode) {
        (self.planes, self.height, self.width) = (planes, height, width)
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
        self.mode = mode
    }

    public var outHeight: Int { height + top + bottom }
    public var outWidth: Int { width + left + right }
}

/// Rows `indices` (each in 0..<tableRows) of a [tableRows, width] table.
public struct GatherParameters: Sendable, Equatable {
    public var indices: [Int]
    public var tableRows: Int
    public var width: Int

    public init(indices: [Int], tableRows: Int, width: Int) {
        self.indices = indices
        self.tableRows = tableRows
        self.width = width
    }
}

/// Batched C = alpha * op(A) op(B) (+ bias per column of C), all contiguous row-major: A is [m, k]
/// ([k, m] when `transposeA`), B is [k, n] ([n, k] when `transposeB`), C is [m, n]. Batch entry i
/// reads A at `i * aBatchStride` and B at `i * bBatchStride` (0: shared) and writes C at `i * m * n`.
public struct GEMMParameters: Sendable, Equatable {
    public var batch: Int, m: Int, n: Int, k: Int
    public var alpha: Float
    public var transposeA: Bool, transposeB: Bool
    public var aBatchStride: Int, bBatchStride: Int

    public init(batch: Int = 1, m: Int, n: Int, k: Int, alpha: Float = 1, transposeA: Bool = false,
                transposeB: Bool = false, aBatchStride: Int? = nil, bBatchStride: Int? = nil) {
        (self.batch, self.m, self.n, self.k, self.alpha) = (batch, m, n, k, alpha)
        (self.transposeA, self.transposeB) = (transposeA, transposeB)
        self.aBatchStride = aBatchStride ?? m * k
        self.bBatchStride = bBatchStride ?? k * n
    }
}

/// PyTorch conv2d with groups 1 and dilation 1, zero padding: input [batch, inChannels, height, width],
/// weight [outChannels, inChannels, kernelHeight, kernelWidth], bias [outChannels].
public struct Conv2dParameters: Sendable, Equatable {
    public var batch: Int, inChannels: Int, height: Int, width: Int
    public var outChannels: Int, kernelHeight: Int, kernelWidth: Int
    public var strideY: Int, strideX: Int, paddingY: Int, paddingX: Int

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int, kernelHeight: Int,
                kernelWidth: Int, strideY: Int = 1, strideX: Int = 1, paddingY: Int = 0, paddingX: Int = 0) {
        (self.batch, self.inChannels, self.height, self.width) = (batch, inChannels, height, width)
        (self.outChannels, self.kernelHeight, self.kernelWidth) = (outChannels, kernelHeight, kernelWidth)
        (self.strideY, self.strideX, self.paddingY, self.paddingX) = (strideY, strideX, paddingY, paddingX)
    }

    public var outHeight: Int { (height + 2 * paddingY - kernelHeight) / strideY + 1 }
    public var outWidth: Int { (width + 2 * paddingX - kernelWidth) / strideX + 1 }
}

/// softmax(q kᵀ · scale) v per head on [batch, length, channels] sequences; head h uses channels
/// h·d ..< (h+1)·d of each. `causal` masks keys after the query.
public struct AttentionParameters: Sendable, Equatable {
    public var batch: Int, queryLength: Int, keyLength: Int
    public var channels: Int, valueChannels: Int, heads: Int
    public var scale: Float
    public var causal: Bool

    public init(batch: Int, queryLength: Int, keyLength: Int, channels: Int, valueChannels: Int, heads: Int,
                scale: Float, causal: Bool) {
        (self.batch, self.queryLength, self.keyLength) = (batch, queryLength, keyLength)
        (self.channels, self.valueChannels, self.heads) = (channels, valueChannels, heads)
        self.scale = scale
        self.causal = causal
    }
}

/// `rows` contiguous rows of `length` elements.
public struct RowParameters: Sendable, Equatable {
    public var rows: Int, length: Int

    public init(rows: Int, length: Int) {
        self.rows = rows
        self.length = length
    }
}

/// [batch, channels, spatial] normalised over each group of channels x spatial (biased variance,
/// eps inside the square root); affine weight and bias per channel.
public struct GroupNormParameters: Sendable, Equatable {
    public var batch: Int, channels: Int, spatial: Int, groups: Int
    public var epsilon: Float

    public init(batch: Int, channels: Int, spatial: Int, groups: Int, epsilon: Float) {
        (self.batch, self.channels, self.spatial, self.groups, self.epsilon) = (batch, channels, spatial, groups, epsilon)
    }
}

/// Inference batch norm over [batch, channels, spatial] with running statistics.
public struct BatchNormParameters: Sendable, Equatable {
    public var batch: Int, channels: Int, spatial: Int
    public var epsilon: Float

    public init(batch: Int, channels: Int, spatial: Int, epsilon: Float) {
        (self.batch, self.channels, self.spatial, self.epsilon) = (batch, channels, spatial, epsilon)
    }
}

public enum InterpolationMode: String, Sendable { case nearest, bilinear, bicubic }

/// PyTorch `interpolate` of `planes` planes. `scaleY` / `scaleX` are the source-per-destination
/// scales PyTorch computes (1 / scale_factor when one was given, in / out otherwise, (in-1)/(out-1)
/// with align_corners).
public struct InterpolationParameters: Sendable, Equatable {
    public var planes: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    public var mode: InterpolationMode
    public var alignCorners: Bool
    public var scaleY: Float, scaleX: Float

    public init(planes: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int, mode: InterpolationMode,
                alignCorners: Bool, scaleY: Float, scaleX: Float) {
        (self.planes, self.inHeight, self.inWidth, self.outHeight, self.outWidth) = (planes, inHeight, inWidth, outHeight, outWidth)
        (self.mode, self.alignCorners, self.scaleY, self.scaleX) = (mode, alignCorners, scaleY, scaleX)
    }
}

public enum GridSampleMode: String, Sendable { case bilinear, nearest }
public enum GridSamplePadding: String, Sendable { case zeros, border }

/// PyTorch `grid_sample` (2-D): input [batch, channels, inHeight, inWidth], grid [batch, outHeight, outWidth, 2].
public struct GridSampleParameters: Sendable, Equatable {
    public var batch: Int, channels: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    public var mode: GridSampleMode
    public var padding: GridSamplePadding
    public var alignCorners: Bool

    public init(batch: Int, channels: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int,
                mode: GridSampleMode, padding: GridSamplePadding, alignCorners: Bool) {
        (self.batch, self.channels, self.inHeight, self.inWidth) = (batch, channels, inHeight, inWidth)
        (self.outHeight, self.outWidth) = (outHeight, outWidth)
        (self.mode, self.padding, self.alignCorners) = (mode, padding, alignCorners)
    }
}

/// PyTorch `avg_pool2d` without padding, floor mode, over `planes` planes.
public struct PoolParameters: Sendable, Equatable {
    public var planes: Int, height: Int, width: Int
    public var kernelHeight: Int, kernelWidth: Int, strideY: Int, strideX: Int

    public init(planes: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int, strideY: Int, strideX: Int) {
        (self.planes, self.height, self.width) = (planes, height, width)
        (self.kernelHeight, self.kernelWidth, self.strideY, self.strideX) = (kernelHeight, kernelWidth, strideY, strideX)
    }

    public var outHeight: Int { max((height - kernelHeight) / strideY + 1, 0) }
    public var outWidth: Int { max((width - kernelWidth) / strideX + 1, 0) }
}

public enum PredictionType: String, Sendable, Codable {
    case epsilon
    case sample
    case vPrediction = "v_prediction"
}

/// The scalars of one DDIM step x_t -> x_{t-1} (eta 0), in diffusers' float32 arithmetic:
/// x0 from the prediction, optionally clipped, then sqrt(ᾱ_prev) x0 + sqrt(1 - ᾱ_prev) ε.
public struct DDIMStepParameters: Sendable, Equatable {
    public var prediction: PredictionType
    public var sqrtAlpha: Float, sqrtBeta: Float
    public var sqrtAlphaPrevious: Float, directionScale: Float
    public var clip: Float?

    public init(prediction: PredictionType, sqrtAlpha: Float, sqrtBeta: Float, sqrtAlphaPrevious: Float,
                directionScale: Float, clip: Float?) {
        (self.prediction, self.sqrtAlpha, self.sqrtBeta) = (prediction, sqrtAlpha, sqrtBeta)
        (self.sqrtAlphaPrevious, self.directionScale, self.clip) = (sqrtAlphaPrevious, directionScale, clip)
    }
}

public struct CoordinateGridParameters: Sendable, Equatable {
    public var batch: Int, height: Int, width: Int

    public init(batch: Int, height: Int, width: Int) {
        (self.batch, self.height, self.width) = (batch, height, width)
    }
}

/// `2 * (v + flow) / span - 1` per axis; spans are max(size - 1, 1) for the reference's flow warp.
public struct FlowGridParameters: Sendable, Equatable {
    public var batch: Int, height: Int, width: Int
    public var spanX: Float, spanY: Float

    public init(batch: Int, height: Int, width: Int, spanX: Float, spanY: Float) {
        (self.batch, self.height, self.width, self.spanX, self.spanY) = (batch, height, width, spanX, spanY)
    }
}

/// Each fine pixel (f y + i, f x + j) is the softmax(mask[k f² + i f + j])-weighted sum over the 3x3
/// neighbours k of f x the coarse flow (zero outside the grid).
public struct ConvexUpsampleParameters: Sendable, Equatable {
    public var height: Int, width: Int, factor: Int

    public init(height: Int, width: Int, factor: Int) {
        (self.height, self.width, self.factor) = (height, width, factor)
    }
}

/// RAFT's pyramid lookup around coordinates [1, 2, height, width] (level-0 pixels): per level l the
/// centre is coordinates / 2^l and the (2r+1)² window is sampled bilinearly with zero padding;
/// channel = level (2r+1)² + ix (2r+1) + iy.
public struct CorrelationLookupParameters: Sendable, Equatable {
    public var height: Int, width: Int
    public var levelSizes: [[Int]]
    public var radius: Int
    /// Feature channels (on-demand form only).
    public var channels: Int

    public init(height: Int, width: Int, levelSizes: [[Int]], radius: Int, channels: Int) {
        (self.height, self.width, self.levelSizes, self.radius, self.channels) = (height, width, levelSizes, radius, channels)
    }

    public var windowSide: Int { 2 * radius + 1 }
    public var outputChannels: Int { levelSizes.count * windowSide * windowSide }
}
