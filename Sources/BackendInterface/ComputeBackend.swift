// BackendInterface: the contract between the tensor engine and the devices that run it. A backend owns
// memory (opaque buffers) and executes every operation the Stream-DiffVSR networks need on buffers it
// owns. It sees no tensors, shapes to check or models: TensorEngine validates every call and hands the
// backend resolved sizes (OperationParameters.swift), so each backend implements exactly the same
// semantics and the same parity suite runs on all of them. References for the split: candle's
// `BackendStorage`, ggml's backend interface.

/// Memory a backend owns: `count` elements of `elementType`, contents undefined until written.
/// Buffers are only ever passed back to the backend that made them.
public protocol BackendBuffer: AnyObject, Sendable {
    var elementType: ElementType { get }
    var count: Int { get }
}

/// A compute device. Operations are issued in program order from one thread at a time per stream of
/// work; a backend may run them asynchronously (a GPU records them into command buffers), so host
/// memory is reached only through `makeBuffer(count:elementType:initialize:)` and `read(_:_:)`, which
/// synchronise. A failure inside asynchronous work (a GPU out of memory, a lost device) is sticky:
/// it is reported by the next `read` or `synchronize`, and the operations in between do nothing.
///
/// Every operation writes its result into an `output` buffer the engine allocated with the right
/// count. Unless an operation says otherwise, `output` is never one of its inputs.
public protocol ComputeBackend: AnyObject, Sendable {
    var info: DeviceInfo { get }

    // MARK: Memory and transfers

    /// A buffer of `count` elements, contents undefined.
    func makeBuffer(count: Int, elementType: ElementType) -> BackendBuffer
    /// A buffer of `count` elements whose bytes `initialize` writes from the host (an upload; on the
    /// CPU the closure writes the buffer's own memory).
    func makeBuffer(count: Int, elementType: ElementType,
                    initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> BackendBuffer
    /// A read-only buffer over `count` elements of host memory at `bytes` that stay valid while `owner`
    /// lives (a mapped checkpoint), used in place without a copy; nil when the backend cannot compute
    /// on host memory (a GPU) or the address is not aligned for the element type, and the caller uploads
    /// a copy instead. Operations never write such a buffer (weights are only ever operands).
    func makeBuffer(wrapping bytes: UnsafeRawPointer, count: Int, elementType: ElementType,
                    owner: AnyObject & Sendable) -> BackendBuffer?
    /// Runs `body` on the buffer's bytes after every pending operation has finished (a download).
    func read<Result>(_ buffer: BackendBuffer, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result
    /// Waits for every pending operation and reports a sticky failure.
    func synchronize() throws
    /// Whether every operation accepts operands of `elementType` (computing in float32 inside) and
    /// writes results of it. float32 always; the engine then passes all operands and results of an
    /// operation in that one type, except weights (below).
    func computes(on elementType: ElementType) -> Bool
    /// Whether `gemm` and `conv2d` compute directly with weights (their second operand) of
    /// `elementType` whatever the activation type; otherwise the engine converts them first.
    func computesWithWeights(of elementType: ElementType) -> Bool

    // MARK: Layout

    func fill(_ output: BackendBuffer, value: Float)
    /// Strided copy (slices, concatenation, permutation, padding interiors). May target part of a
    /// larger output; source and output never overlap.
    func copy(_ source: BackendBuffer, into output: BackendBuffer, _ layout: StridedCopy)
    /// Element-type conversion of `source.count` elements (round to nearest even, like torch).
    func convert(_ source: BackendBuffer, into output: BackendBuffer)
    func pad(_ input: BackendBuffer, into output: BackendBuffer, _ parameters: PadParameters)
    /// Rows of `table` ([rows, width]) picked by `parameters.indices`.
    func gatherRows(_ table: BackendBuffer, into output: BackendBuffer, _ parameters: GatherParameters)

    // MARK: Elementwise

    func unary(_ operation: UnaryOperation, _ input: BackendBuffer, into output: BackendBuffer)
    /// `input op scalar` (or `scalar op input` for the reversed operations) element by element.
    func scalar(_ operation: ScalarOperation, _ input: BackendBuffer, _ scalar: Float, into output: BackendBuffer)
    /// `a op b` with numpy broadcasting expressed as zero strides. `output` may be `a` itself (an
    /// in-place update; `b` then never aliases it).
    func binary(_ operation: BinaryOperation, _ a: BackendBuffer, _ b: BackendBuffer, into output: BackendBuffer,
                _ layout: BroadcastLayout)
    /// `target[i] += scale * source[i]` in place, rounded as a multiply then an add.
    func accumulate(_ source: BackendBuffer, scale: Float, into target: BackendBuffer)
    /// `(1 - w) * a + w * b` element by element, in that form (torchvision's ConvGRU update).
    func blend(_ a: BackendBuffer, _ b: BackendBuffer, weight: BackendBuffer, into output: BackendBuffer)

    // MARK: Linear algebra and convolution

    func gemm(_ parameters: GEMMParameters, a: BackendBuffer, b: BackendBuffer, bias: BackendBuffer?,
              into output: BackendBuffer)
    func conv2d(_ parameters: Conv2dParameters, input: BackendBuffer, weight: BackendBuffer, bias: BackendBuffer?,
                into output: BackendBuffer)
    func attention(_ parameters: AttentionParameters, query: BackendBuffer, key: BackendBuffer, value: BackendBuffer,
                   into output: BackendBuffer)
    func softmax(_ parameters: RowParameters, _ input: BackendBuffer, into output: BackendBuffer)

    // MARK: Normalisation

    /// Group norm over [batch, channels, spatial] (instance norm: one channel per group, no affine).
    func groupNorm(_ parameters: GroupNormParameters, _ input: BackendBuffer, weight: BackendBuffer?, bias: BackendBuffer?,
                   into output: BackendBuffer)
    func layerNorm(_ parameters: RowParameters, epsilon: Float, _ input: BackendBuffer, weight: BackendBuffer?,
                   bias: BackendBuffer?, into output: BackendBuffer)
    func batchNorm(_ parameters: BatchNormParameters, _ input: BackendBuffer, mean: BackendBuffer, variance: BackendBuffer,
                   weight: BackendBuffer?, bias: BackendBuffer?, into output: BackendBuffer)

    // MARK: Resampling

    func interpolate(_ parameters: InterpolationParameters, _ input: BackendBuffer, into output: BackendBuffer)
    func gridSample(_ parameters: GridSampleParameters, _ input: BackendBuffer, grid: BackendBuffer,
                    into output: BackendBuffer)
    func avgPool2d(_ parameters: PoolParameters, _ input: BackendBuffer, into output: BackendBuffer)

    // MARK: Stream-DiffVSR's fused operations

    /// One deterministic DDIM update (eta 0) from the sample and the model output.
    func ddimStep(_ parameters: DDIMStepParameters, sample: BackendBuffer, modelOutput: BackendBuffer,
                  into output: BackendBuffer)
    /// [batch, 2, height, width]: channel 0 = x (column), 1 = y (row), as floats.
    func coordinateGrid(_ parameters: CoordinateGridParameters, into output: BackendBuffer)
    /// A grid_sample grid [batch, height, width, 2] from a pixel flow [batch, 2, height, width]:
    /// `2 (v + flow) / span - 1` per axis.
    func flowSamplingGrid(_ parameters: FlowGridParameters, flow: BackendBuffer, into output: BackendBuffer)
    /// RAFT's convex upsampling of a coarse flow [1, 2, h, w] with a mask [1, 9 f², h, w].
    func convexUpsample(_ parameters: ConvexUpsampleParameters, flow: BackendBuffer, mask: BackendBuffer,
                        into output: BackendBuffer)
    /// RAFT's correlation lookup from the stored pyramid: per level [pixels, levelHeight, levelWidth].
    func correlationLookup(_ parameters: CorrelationLookupParameters, volumes: [BackendBuffer],
                           coordinates: BackendBuffer, into output: BackendBuffer)
    /// The same lookup computing each needed dot product from queries [pixels, channels] (scaled) and
    /// per level the pooled keys [levelHeight * levelWidth, channels].
    func correlationLookupOnDemand(_ parameters: CorrelationLookupParameters, queries: BackendBuffer,
                                   keys: [BackendBuffer], coordinates: BackendBuffer, into output: BackendBuffer)
}

extension ComputeBackend {
    /// Backends without host-visible memory copy every upload.
    public func makeBuffer(wrapping bytes: UnsafeRawPointer, count: Int, elementType: ElementType,
                           owner: AnyObject & Sendable) -> BackendBuffer? { nil }
}
