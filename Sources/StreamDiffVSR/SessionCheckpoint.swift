// A stream's resumable state: what `StreamSession` carries from one frame to the next, as bytes that
// can be written beside an output and read back by a later process. A resumed session produces the
// frames the interrupted one would have, bit for bit: the state holds the exact float tensors and the torch
// generator's position (native noise draws frame i from stream i of the seed, so there the frame index is
// the position).

import Crypto
import Foundation
import TensorEngine

/// Everything the next frame of a stream depends on besides the model and the options.
public struct SessionState {
    /// Frames processed so far; also the position of the noise generator.
    public let frameIndex: Int
    /// The LR input size the stream started with (every frame must have it).
    public let frameSize: (width: Int, height: Int)?
    /// The previous decoded float frame [1, 3, H, W] and the previous frame as the flow network saw it.
    let previous: (decoded: Tensor, flowInput: Tensor)?
    /// Where the session's torch generator stands (nil for native noise).
    let torchNoise: TorchNoiseState?

    init(frameIndex: Int, frameSize: (width: Int, height: Int)?, previous: (decoded: Tensor, flowInput: Tensor)?,
         torchNoise: TorchNoiseState?) {
        self.frameIndex = frameIndex
        self.frameSize = frameSize
        self.previous = previous
        self.torchNoise = torchNoise
    }

    /// Checks that the tensors fit the frame size, the model's scale and the flow resolution.
    func validate(scale: Int, flowResolution: FlowResolution) throws {
        guard let previous else { return }
        guard let frameSize else { throw SessionCheckpointError.corrupt("previous frames without a frame size") }
        let height = frameSize.height / scale * scale, width = frameSize.width / scale * scale
        let decoded = [1, 3, height * scale, width * scale]
        let flowInput = flowResolution == .hr ? decoded : [1, 3, height, width]
        guard previous.decoded.shape == decoded, previous.flowInput.shape == flowInput else {
            throw SessionCheckpointError.corrupt("tensors \(previous.decoded.shape) and \(previous.flowInput.shape) do not fit \(frameSize.width)x\(frameSize.height) frames (expected \(decoded) and \(flowInput))")
        }
    }
}

/// Why saved state was refused; each reads as one line.
public enum SessionCheckpointError: Error, CustomStringConvertible, Equatable {
    case corrupt(String)
    case otherModel
    case otherOptions(option: String, saved: String, current: String)

    public var description: String {
        switch self {
        case .corrupt(let reason): return "the saved session state is unreadable (\(reason))"
        case .otherModel: return "it was made with another model or other flow weights"
        case let .otherOptions(option, saved, current): return "it was made with \(option) \(saved), this run uses \(current)"
        }
    }
}

/// Byte format: a magic line, an 8-byte little-endian header length, a JSON header, then the tensors'
/// float32 values (little-endian) in header order.
extension SessionState {
    static let magic = Array("stream-diffvsr session state\n".utf8)
    static let version = 1

    struct Header: Codable {
        var version: Int
        var model: String
        var options: [String: String]
        var frameIndex: Int
        var frameWidth: Int?
        var frameHeight: Int?
        /// Shapes of the previous decoded frame and flow input, when there is a previous frame.
        var tensors: [[Int]]
        var torchNoise: TorchNoiseState?
    }

    /// The options that change the frames, by their command-line names, so a mismatch can name the option.
    static func describe(_ options: SessionOptions) -> [String: String] {
        var described = [
            "--num-inference-steps": "\(options.numInferenceSteps)",
            "--prompt": "\"\(options.prompt)\"",
            "--seed": "\(options.seed)",
            "--flow-iterations": "\(options.flowIterations)",
            "--flow-resolution": options.flowResolution.rawValue,
            "--initial-latents": "none",
            "--noise": options.noise.description,
        ]
        if let latents = options.initialLatents {
            var hash = SHA256()
            hash.update(data: Data("\(latents.shape)".utf8))
            (try? latents.scalars)?.withUnsafeBytes { hash.update(bufferPointer: $0) }
            described["--initial-latents"] = "sha256 " + hash.finalize().map { String(format: "%02x", $0) }.joined().prefix(16)
        }
        return described
    }

    /// The state as bytes, tagged with the model (see `ModelIdentity`) and the options it belongs to.
    public func serialized(modelIdentity: String, options: SessionOptions) throws -> [UInt8] {
        let tensors = previous.map { [$0.decoded, $0.flowInput] } ?? []
        let header = Header(version: Self.version, model: modelIdentity, options: Self.describe(options), frameIndex: frameIndex,
                            frameWidth: frameSize?.width, frameHeight: frameSize?.height, tensors: tensors.map(\.shape),
                            torchNoise: torchNoise)
        let json = Array(try JSONEncoder().encode(header))
        var bytes = Self.magic
        for byte in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: json.count >> (8 * byte))) }
        bytes += json
        for tensor in tensors {
            // Host transfer: the state leaves the engine as float32 values.
            try tensor.converted(to: .float32).withStoredBytes { bytes += $0 }
        }
        return bytes
    }

    /// Reads bytes from `serialized`, refusing state saved with another model or other options.
    public init(serialized bytes: [UInt8], modelIdentity: String, options: SessionOptions) throws {
        let lengthStart = Self.magic.count, headerStart = lengthStart + 8
        guard bytes.count >= headerStart, Array(bytes[0..<lengthStart]) == Self.magic else {
            throw SessionCheckpointError.corrupt("not a stream-diffvsr session state")
        }
        let length = (0..<8).reduce(0) { $0 | Int(bytes[lengthStart + $1]) << (8 * $1) }
        guard length > 0, length <= 1 << 20, length <= bytes.count - headerStart,
              let header = try? JSONDecoder().decode(Header.self, from: Data(bytes[headerStart..<(headerStart + length)])) else {
            throw SessionCheckpointError.corrupt("the header is damaged")
        }
        guard header.version == Self.version else { throw SessionCheckpointError.corrupt("format version \(header.version), expected \(Self.version)") }
        guard header.model == modelIdentity else { throw SessionCheckpointError.otherModel }
        let current = Self.describe(options)
        for (option, value) in current.sorted(by: { $0.key < $1.key }) where header.options[option] != value {
            throw SessionCheckpointError.otherOptions(option: option, saved: header.options[option] ?? "(not set)", current: value)
        }
        guard header.frameIndex >= 0, header.tensors.count == 0 || header.tensors.count == 2 else {
            throw SessionCheckpointError.corrupt("frame \(header.frameIndex) with \(header.tensors.count) tensors")
        }
        var offset = headerStart + length
        var tensors: [Tensor] = []
        for shape in header.tensors {
            let count = try Self.elementCount(shape, available: (bytes.count - offset) / MemoryLayout<Float>.size)
            var scalars = [Float](repeating: 0, count: count)
            scalars.withUnsafeMutableBytes { $0.copyBytes(from: bytes[offset..<(offset + count * MemoryLayout<Float>.size)]) }
            tensors.append(Tensor(shape: shape, scalars: scalars))
            offset += count * MemoryLayout<Float>.size
        }
        guard offset == bytes.count else { throw SessionCheckpointError.corrupt("\(bytes.count - offset) bytes after the last tensor") }
        var size: (width: Int, height: Int)?
        if let width = header.frameWidth, let height = header.frameHeight {
            guard width > 0, height > 0 else { throw SessionCheckpointError.corrupt("frame size \(width)x\(height)") }
            size = (width, height)
        }
        self.init(frameIndex: header.frameIndex, frameSize: size, previous: tensors.isEmpty ? nil : (tensors[0], tensors[1]),
                  torchNoise: header.torchNoise)
    }

    /// The product of a stored shape, checked for overflow and against the bytes actually there.
    private static func elementCount(_ shape: [Int], available: Int) throws -> Int {
        guard shape.count == 4 else { throw SessionCheckpointError.corrupt("tensor of shape \(shape), expected 4 dimensions") }
        var count = 1
        for dimension in shape {
            guard dimension > 0 else { throw SessionCheckpointError.corrupt("tensor of shape \(shape)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= available else {
                throw SessionCheckpointError.corrupt("tensor of shape \(shape) is larger than the data")
            }
            count = product
        }
        return count
    }
}

/// A cheap identity of the weights a pipeline was loaded from: a checkpoint must not be resumed with
/// other weights, and hashing gigabytes at every start would be too slow. Every file of every component
/// folder (and the flow weights) contributes its name and size; small files their whole content, large
/// ones their first and last 64 KiB (safetensors headers name and place every tensor).
public enum ModelIdentity {
    public static func of(_ repository: ModelRepository, flowWeights: URL) throws -> String {
        var hash = SHA256()
        for component in ModelRepository.Component.allCases {
            let folder = repository.directory(of: component)
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
            for name in names where !name.hasPrefix(".") {
                try add(folder.appendingPathComponent(name), to: &hash)
            }
        }
        try add(flowWeights, to: &hash)
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    private static func add(_ file: URL, to hash: inout SHA256) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory), !isDirectory.boolValue else { return }
        guard let handle = FileHandle(forReadingAtPath: file.path) else {
            throw PipelineError.missingComponent(directory: file.deletingLastPathComponent().path, component: file.lastPathComponent,
                                                 expected: "a readable file")
        }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        hash.update(data: Data("\(file.lastPathComponent)\u{0}\(size)\u{0}".utf8))
        let window: UInt64 = 64 << 10
        try handle.seek(toOffset: 0)
        hash.update(data: try handle.read(upToCount: Int(min(size, 2 * window))) ?? Data())
        if size > 2 * window {
            try handle.seek(toOffset: size - window)
            hash.update(data: try handle.read(upToCount: Int(window)) ?? Data())
        }
    }
}
